"""The Components page's Templates tab: pick, edit, save, archive and restore message
templates, with their message counts and a sample as the channel shows it.

A page lays out its tabs; this is the tab's body, kept apart so the page stays short. Every
read and write goes through ``workbench.library.templates``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from ui import previews
from ui.editing import flash, stale_message
from workbench import StaleEditError
from workbench.library import templates as tpl_service
from workbench.library.assembly import Template, pool_from_components, sample_messages

ALL = "(all segments)"  # the segment pickers' entry for a template or atom of every segment

NEW = 0  # the template picker's entry for a new template
#: Editor fields: (field, label, multi-line). Merchant, category and voucher go in Details.
TEXT_FIELDS = [("title", "Title (push/in-app headline, e-mail subject)", False),
               ("preheader", "Preheader (e-mail only)", False), ("body", "Body", True),
               ("image", "Image (asset description or URL)", False)]
DETAIL_FIELDS = [("merchant", "Merchant"), ("product_category", "Product category"),
                 ("voucher", "Voucher")]
EDITOR_FIELDS = [f for f, _, _ in TEXT_FIELDS] + [f for f, _ in DETAIL_FIELDS]


def open_template(template_id: int, field: str | None = None) -> None:
    """Button callback: show the Templates tab with ``template_id`` picked in the editor."""
    st.session_state["components_tab"] = "Templates"
    pick_template(template_id, field)


def pick_template(template_id: int, field: str | None = None) -> None:
    """Pick ``template_id`` in the editor, whatever the filters showed (before they draw)."""
    ss = st.session_state
    ss.update(tpl_status_f="all", tpl_channel_f="Any", tpl_pick=template_id, tpl_focus=field)


def _template_label(t: dict) -> str:
    archived = " (archived)" if t["status"] == "archived" else ""
    return f"#{t['id']} · {t['name']} · {t['channel']}{archived}"


def templates_tab(store, segments, frozen: bool) -> None:
    ss = st.session_state
    if (pending := ss.pop("tpl_open", None)) is not None:  # a template added on the last run
        pick_template(pending)
    if (click := ss.pop("tpl_status_click", None)) is not None:  # see status_clicked
        tid, seen, target, verb = click
        submit_template(store, tid, {"status": target}, seen, verb=verb)
    drafts: dict[int, dict] = ss.setdefault("tpl_drafts", {})  # unsaved changes per template
    channels = {c["id"]: c for c in store.channels()}
    pick_col, c1, c2 = st.columns([4, 1, 1])
    ch_f = c1.selectbox("Channel", ["Any", *channels], key="tpl_channel_f",
                        format_func=lambda c: channels[c]["name"] if c in channels else c)
    status_f = c2.selectbox("Status", ["active", "archived", "all"], key="tpl_status_f")
    rows = store.templates(channel=None if ch_f == "Any" else ch_f,
                           status=None if status_f == "all" else status_f)
    by_id = {t["id"]: t for t in rows}
    if ss.get("tpl_pick") not in (NEW, *by_id):
        ss.pop("tpl_pick", None)
    tid = pick_col.selectbox(
        "Template", [*by_id, NEW], key="tpl_pick",
        format_func=lambda i: "New template" if i == NEW else _template_label(by_id[i]))
    tpl = store.template(tid) if tid != NEW else {
        "id": NEW, "name": "", "segment": None, "channel": "push", "version": 0,
        "status": "active", **{f: "" for f in EDITOR_FIELDS}}
    # The version the person saw before their first unsaved change: the one kept with their
    # draft, or the one shown on the last run (a change typed now was typed on that), so that
    # a save over someone else's newer change is refused instead of overwriting it.
    prev = ss.get("tpl_shown")
    ss["tpl_shown"] = (tid, tpl["version"])
    seen_map: dict[int, int] = ss.setdefault("tpl_seen", {})
    if tid in drafts:
        seen = seen_map.setdefault(tid, tpl["version"])
    else:
        seen = prev[1] if prev and prev[0] == tid else tpl["version"]
    if tid != NEW:
        st.caption(f"Version {tpl['version']} · {tpl['status']} · source {tpl['source']} · "
                   f"last changed by {ui.plain(tpl['updated_by'])} at {tpl['updated_at']}. "
                   "`{kind}` marks a slot that takes one atom of that kind.")
    if focus := ss.pop("tpl_focus", None):
        st.info(f"Fix the field '{focus}' of this template, then save.")
    form_col, side = st.columns([3, 2], gap="large")
    with form_col:
        values = template_form(tpl, channels, segments, drafts.get(tid, {}))
        stored = _form_values(tpl)
        if changed := {f: v for f, v in values.items() if v != stored[f]}:
            drafts[tid] = changed
            seen_map.setdefault(tid, seen)
            st.warning(f"Unsaved changes to {', '.join(changed)}: Save saves them, Discard "
                       "changes drops them; they stay here if you open another template.")
        else:
            drafts.pop(tid, None)
            seen_map.pop(tid, None)
        if others := [t for t in drafts if t != tid]:
            st.caption("Unsaved changes are also kept for "
                       + ", ".join("the new template" if t == NEW else f"template #{t}"
                                   for t in others) + ".")
        c1, c2 = st.columns(2)
        label = "Add template" if tid == NEW else "Save template"
        if c1.button(label, key="tpl_save", type="primary", disabled=frozen):
            submit_template(store, tid, {**values, "segment": "" if values["segment"] == ALL
                                         else values["segment"]}, seen)
        if changed and c2.button("Discard changes", key="tpl_discard"):
            drafts.pop(tid, None)
            seen_map.pop(tid, None)
            ss.pop("tpl_shown", None)
            ss["tpl_gen"] = ss.get("tpl_gen", 0) + 1
            flash(f"Discarded the unsaved changes to {', '.join(changed)}.")
            st.rerun()
    if tid == NEW:
        side.caption("Slots: " + ", ".join(f"`{{{k['id']}}}`" for k in store.kinds())
                     + ". A channel shows only its fields: an SMS has no title, preheader or "
                     "image; only e-mail has a preheader.")
        return
    target = "archived" if tpl["status"] == "active" else "active"
    verb = "Archive" if target == "archived" else "Restore"
    with side:
        template_sample(store, tpl, channels[tpl["channel"]])
        st.button(f"{verb} template", key="tpl_status_button", disabled=frozen,
                  on_click=status_clicked, args=(tid, seen, target, f"{verb}d"))
    template_counts(store, tpl, channels[tpl["channel"]])
    history = [{"version": r.version, "action": r.action, "by": r.actor, "at": r.at,
                "changes": r.summary()} for r in tpl_service.template_history(store, tid)]
    st.markdown("**History**")
    st.dataframe(pd.DataFrame(history, columns=["version", "action", "by", "at", "changes"]),
                 hide_index=True, width="stretch", key="tpl_history", column_config={
                     "version": "Version", "action": "Action", "by": "By", "at": "At",
                     "changes": "Changes"})


def status_clicked(tid: int, seen: int, target: str, verb: str) -> None:
    """Archive/Restore callback: keep the template and version the button was drawn for, so
    the click applies to them (refused as stale if they changed since) on the next run, not
    to whatever the picker shows then (a template archived meanwhile leaves the filtered
    list and the picker falls back to another)."""
    st.session_state["tpl_status_click"] = (tid, seen, target, verb)


def _form_values(tpl: dict) -> dict:
    """What the editor's widgets show for a stored template (no segment: ``ALL``)."""
    return {"name": tpl["name"], "channel": tpl["channel"], "segment": tpl["segment"] or ALL,
            **{f: tpl[f] or "" for f in EDITOR_FIELDS}}


def template_form(tpl: dict, channels: dict, segments: list[str], draft: dict) -> dict:
    """The editor's widgets, filled with the stored template and the person's unsaved changes
    (``draft``); returns what they show now. Plain widgets, not a form, so that every change
    reaches the server and survives opening another template."""
    gen = st.session_state.setdefault("tpl_gen", 0)
    key = f"{tpl['id']}_{gen}"
    shown = {**_form_values(tpl), **draft}
    values = {"name": st.text_input("Name", shown["name"], key=f"tpl_name_{key}")}
    c1, c2 = st.columns(2)
    ch_ids = list(channels)
    values["channel"] = c1.selectbox(
        "Channel", ch_ids, index=ch_ids.index(shown["channel"]) if shown["channel"] in ch_ids
        else 0, format_func=lambda c: channels[c]["name"], key=f"tpl_channel_{key}")
    seg_opts = [ALL, *segments] + ([shown["segment"]] if shown["segment"] not in
                                   (ALL, *segments) else [])
    values["segment"] = c2.selectbox("Segment", seg_opts, index=seg_opts.index(shown["segment"]),
                                     key=f"tpl_segment_{key}")
    for f, label, multi in TEXT_FIELDS:
        if multi:
            values[f] = st.text_area(label, shown[f], key=f"tpl_{f}_{key}", height=110)
        else:
            values[f] = st.text_input(label, shown[f], key=f"tpl_{f}_{key}")
    with st.expander("Details: merchant, product category, voucher"):
        for f, label in DETAIL_FIELDS:
            values[f] = st.text_input(label, shown[f], key=f"tpl_{f}_{key}")
    return values


def submit_template(store, tid: int, values: dict, seen: int, verb: str = "Saved") -> None:
    """Add or save a template; a refusal shows its problems and keeps the editor as typed, a
    stale save reloads the template and shows both texts."""
    ss = st.session_state
    with ui.reported():
        try:
            if tid == NEW:
                new_id = tpl_service.add_template(store, values, ui.actor())
                ss["tpl_open"] = new_id
                flash(f"Added template #{new_id}.")
            else:
                changed = tpl_service.save_template(store, tid, values, ui.actor(),
                                                    based_on=seen)
                if "status" in values and tid in ss.get("tpl_seen", {}):
                    # unsaved changes stay, now based on the version this archive made
                    ss["tpl_seen"][tid] = store.template(tid)["version"]
                flash(f"{verb} template #{tid}." if changed
                      else "Nothing to save: no field was changed.")
        except StaleEditError as e:
            ss["flash_error"] = stale_message(e, shows="the editor now shows")
        ss.pop("tpl_shown", None)  # what the editor shows next is the version now stored
        if "status" not in values:  # saved (or reloaded): the editor shows the stored template
            ss.setdefault("tpl_drafts", {}).pop(tid, None)
            ss.setdefault("tpl_seen", {}).pop(tid, None)
            ss["tpl_gen"] = ss.get("tpl_gen", 0) + 1
        st.rerun()


def template_counts(store, tpl: dict, channel: dict) -> None:
    """Distinct messages per segment on the template's channel (only the slots it shows)."""
    if not Template.from_row(tpl).slots:
        return
    st.markdown(f"**Distinct {channel['name']} messages** per segment (only the slots the "
                "channel shows count)")
    st.dataframe(pd.DataFrame([
        {"segment": c.segment, "messages": f"{c.messages:,}",
         "atoms per slot": " × ".join(f"{{{s}}} {n}" for s, n in c.per_slot.items())}
        for c in tpl_service.message_counts(store, tpl)]),
        hide_index=True, width="stretch", key="tpl_counts", column_config={
            "segment": "Segment", "messages": "Messages", "atoms per slot": "Atoms per slot"})


def template_sample(store, tpl: dict, channel: dict) -> None:
    """One message of the saved template as its channel shows it."""
    segment = tpl["segment"] or next((s["id"] for s in store.segments()), None)
    pool = pool_from_components(store.components(for_segment=segment, status="active"))
    samples = sample_messages(Template.from_row(tpl), pool, 1, channel=channel)
    kind = "A sample" if Template.from_row(tpl).slots else "The message (no slots)"
    for msg in samples:
        st.caption(f"{kind} as saved, on {channel['name']}"
                   + (f" for {segment}" if segment else "") + ":")
        st.html(f'<div data-template-sample="{tpl["id"]}">{previews.render(msg, channel)}</div>')
