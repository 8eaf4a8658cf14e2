"""Editing helpers shared by the Components page's tabs: one-shot messages across a rerun and
the refusal of a stale save, written so that an atom's text is shown as typed."""

from __future__ import annotations

import streamlit as st

from workbench import StaleEditError


def flash(message: str) -> None:
    """Show ``message`` as a success note on the next run of the page."""
    st.session_state["flash"] = message


def md_text(text: str) -> str:
    """Text shown verbatim inside a Markdown box (an atom's ``*`` or ``[x](y)`` stays text)."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>~$" else c for c in text)


def stale_message(error: StaleEditError, shows: str = "the grid now shows") -> str:
    """The refusal of a stale save: per atom (or template) who changed it and when, their text
    and yours."""
    lines = [("Not saved: the library changed since you opened it. Nothing of this save was "
              f"written; {shows} the current texts. Apply your change again if it "
              "still holds.")]
    for c in error.conflicts:
        lines.append(
            f"- {c.subject.capitalize()} #{c.component_id} was changed by "
            f"{md_text(c.changed_by)} at {md_text(c.changed_at)} (you opened version {c.based_on}, it is now version "
            f"{c.version}).  \n  Their text: {md_text(c.their_text)}  \n"
            f"  Your text: {md_text(c.your_text)}")
    return "\n".join(lines)
