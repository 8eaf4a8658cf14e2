"""Core of the agentic CRM workbench: domain logic with no user interface.

Pages in ``pages/`` and the ``workbench`` command call into this package; it never imports
Streamlit. The five subpackages are the design (each ``__init__`` names its front door):

- ``workbench.library``: atoms, templates, validation, channels, seed data, the programme;
- ``workbench.agent``: the action space, the Thompson Sampling agent, rewards, users, ingest;
- ``workbench.sim``: the simulated world and the randomised trial;
- ``workbench.lift``: lift estimators (delta method, ML-RATE) and the lift report;
- ``workbench.studio``: the rewrite studio (pipeline, rules engine, LLM backends, judging).

``cli`` and ``bench`` sit on top. The named exceptions every layer raises live here, so that any
module can raise them without importing another layer.
"""

from __future__ import annotations

from dataclasses import dataclass

__version__ = "0.1.0"



class WorkbenchError(Exception):
    """Base class for every error the core raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one row.

    ``row`` is the number a person sees: the table row, or the data row of an imported CSV
    file (data row 1 is the first line under the header), or the 1-based position of a JSON
    object. ``None`` when the problem concerns the whole input.
    """

    message: str
    row: int | None = None
    field: str | None = None
    ref: str | None = None  # e.g. "component #12", to find the row again

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.ref:
            where.append(f"({self.ref})")
        if self.field:
            where.append(f"field '{self.field}'")
        return (" ".join(where) + ": " if where else "") + self.message


class ValidationError(WorkbenchError):
    """Input was rejected whole; ``problems`` lists every reason, nothing was written."""

    def __init__(self, problems: list[Problem], summary: str | None = None):
        self.problems = list(problems)
        head = summary or f"{len(self.problems)} problem(s); nothing was saved"
        super().__init__(head + ":\n" + "\n".join(f"- {p}" for p in self.problems))
        self.summary = head


class LibraryFrozenError(WorkbenchError):
    """The library is frozen in passive management; switch to active mode to edit it."""


@dataclass(frozen=True)
class Conflict:
    """One stale edit: the row changed in the library after the person (or file) read it."""

    component_id: int
    based_on: int          # the version the edit was based on
    version: int           # the version in the library now
    changed_by: str
    changed_at: str
    your_text: str
    their_text: str
    row: int | None = None
    subject: str = "component"  # or "template": what ``component_id`` numbers

    def __str__(self) -> str:
        what = f"{self.subject} #{self.component_id}"
        where = f"row {self.row} ({what})" if self.row is not None else what
        return (f"{where} was changed by {self.changed_by} at {self.changed_at} since you "
                f"opened it (you opened version {self.based_on}, it is now version "
                f"{self.version}). Your text: {self.your_text!r}; their text: "
                f"{self.their_text!r}")


class StaleEditError(WorkbenchError):
    """Someone saved the same atom after this edit was opened; nothing was saved.

    Raised instead of letting the last save win: ``conflicts`` carries, per atom, who changed
    it and when, and both texts, so the page can show them and let the person merge.
    """

    def __init__(self, conflicts: list[Conflict]):
        self.conflicts = list(conflicts)
        super().__init__("Your changes were not saved because the library changed since you "
                         "opened it; reload and apply them again:\n"
                         + "\n".join(f"- {c}" for c in self.conflicts))
