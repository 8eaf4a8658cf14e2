"""Components: author the atoms the agent permutes, and preview the messages they make."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from ui import previews
from workbench import StaleEditError
from workbench.library import service as library
from workbench.library import templates as tpl_service
from workbench.library.assembly import (
    Template,
    channel_fields,
    count_permutations,
    pool_from_components,
    sample_messages,
)
from workbench.library.validation import OFFER_TYPES, TONES

ALL = "(all segments)"
COLUMNS = ["id", "kind", "text", "segment", "offer_type", "product_category", "tone", "tags",
           "status", "version", "updated_by", "updated_at"]


def editor_key() -> str:
    return f"components_editor_{st.session_state.setdefault('editor_gen', 0)}"


def flash(message: str) -> None:
    st.session_state["flash"] = message


def _md_text(text: str) -> str:
    """Text shown verbatim inside a Markdown box (an atom's ``*`` or ``[x](y)`` stays text)."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>~$" else c for c in text)


# -- unsaved grid edits ----------------------------------------------------------------------
# The grid's own state (``edited_rows``) is positional: it is only right for the rows the grid
# showed when the person typed. When those rows change (a filter, an import, an archive), the
# edits are moved, by component id, into ``grid_pending`` and the grid starts afresh showing
# them, instead of being dropped or landing on other rows. ``grid_versions`` keeps, per
# component, the version the person saw before editing it, so a save over someone else's
# newer change is refused (StaleEditError) instead of overwriting it.

def _grid_edits() -> dict[int, dict]:
    state = st.session_state.get(editor_key()) or {}
    return {int(pos): dict(ch) for pos, ch in (state.get("edited_rows") or {}).items() if ch}


def keep_grid_edits() -> None:
    """Move the grid's positional edits into the pending edits (by id) and restart the grid."""
    shown = st.session_state.get("grid_ids") or []
    pending = st.session_state.setdefault("grid_pending", {})
    for pos, changes in _grid_edits().items():
        if pos < len(shown):
            pending.setdefault(shown[pos], {}).update(changes)
    st.session_state["editor_gen"] = st.session_state.get("editor_gen", 0) + 1


def drop_grid_edits() -> None:
    """Forget every unsaved edit (after a save, or when the person discards them)."""
    st.session_state["grid_pending"] = {}
    st.session_state["grid_versions"] = {}
    st.session_state["editor_gen"] = st.session_state.get("editor_gen", 0) + 1


GRID_ROWS, GRID_ROW_PX = 20, 35  # rows the library grid shows at once; a row's height


def library_tab(store, kinds, segments, frozen: bool) -> None:
    c1, c2, c3, c4 = st.columns([2, 2, 1, 2])
    kind_f = c1.multiselect("Kind", list(kinds), format_func=kinds.get, key="f_kind")
    seg_f = c2.selectbox("Segment", ["Any", ALL, *segments], key="f_segment")
    status_f = c3.selectbox("Status", ["active", "archived", "all"], key="f_status")
    search_f = c4.text_input("Search text or tags", key="f_search")
    rows = store.components(
        kind=kind_f or None, status=None if status_f == "all" else status_f,
        segment=None if seg_f == "Any" else ("" if seg_f == ALL else seg_f),
        search=search_f.strip() or None)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["segment"] = df["segment"].fillna(ALL)
    ids = [int(r["id"]) for r in rows]
    ss = st.session_state
    if _grid_edits() and ss.get("grid_ids") not in (None, ids):
        keep_grid_edits()
    pending: dict[int, dict] = ss.setdefault("grid_pending", {})
    versions: dict[int, int] = ss.setdefault("grid_versions", {})
    editing = set(pending) | {ids[p] for p in _grid_edits() if p < len(ids)}
    for r in rows:  # the version seen before the first edit of a row, the latest otherwise
        if r["id"] in editing:
            versions.setdefault(r["id"], r["version"])
        else:
            versions[r["id"]] = r["version"]
    for cid, changes in pending.items():
        if cid in ids:
            for col, value in changes.items():
                df.loc[ids.index(cid), col] = value
    ss["grid_ids"] = ids
    st.caption(f"{len(df)} component(s). Edit cells, then save: an invalid batch is rejected "
               "whole and nothing is saved. Set status to archived to retire an atom.")
    if pending:
        hidden = [c for c in pending if c not in ids]
        n = sum(len(ch) for ch in pending.values())
        st.warning(
            f"You have {n} unsaved edit(s) on component(s) "
            f"{', '.join(f'#{c}' for c in pending)}; the list changed since you made them. "
            "They are kept: Save changes saves them, Discard edits drops them."
            + (f" Not in the list shown now: {', '.join(f'#{c}' for c in hidden)}."
               if hidden else ""), icon=None)
        if st.button("Discard edits", key="discard_edits"):
            drop_grid_edits()
            flash(f"Discarded {n} unsaved edit(s).")
            st.rerun()
    st.data_editor(  # up to 20 rows in view (Streamlit's default shows 10 of a library)
        df, key=editor_key(), hide_index=True, width="stretch", num_rows="fixed",
        height=GRID_ROW_PX * (min(len(df), GRID_ROWS) + 1) + 3,
        disabled=True if frozen else ["id", "kind", "version", "updated_by", "updated_at"],
        column_config={
            "id": st.column_config.NumberColumn("id", width="small"),
            "text": st.column_config.TextColumn("text", width="large"),
            "segment": st.column_config.SelectboxColumn("segment", options=[ALL, *segments]),
            "offer_type": st.column_config.SelectboxColumn("offer type",
                                                           options=["", *OFFER_TYPES]),
            "tone": st.column_config.SelectboxColumn("tone", options=["", *TONES]),
            "status": st.column_config.SelectboxColumn("status", options=["active", "archived"]),
            "kind": "kind", "product_category": "product category", "tags": "tags",
            "version": "version", "updated_by": "updated by", "updated_at": "updated at",
        })
    changed_cells = sum(len(ch) for ch in _grid_edits().values())
    if changed_cells:  # the grid keeps edits until saved: say so, so none is left behind
        st.caption(f"{changed_cells} unsaved change(s) in the grid: Save changes saves them.")
    if st.button("Save changes", key="save_edits", type="primary", disabled=frozen):
        by_id = {cid: dict(ch) for cid, ch in pending.items()}
        for pos, changes in _grid_edits().items():
            by_id.setdefault(ids[pos], {}).update(changes)
        rows_of = {cid: i + 1 for i, cid in enumerate(ids)}
        edits = [library.Edit(cid, {k: ("" if v == ALL else v) for k, v in ch.items()},
                              row=rows_of.get(cid), based_on=versions.get(cid))
                 for cid, ch in by_id.items()]
        if not edits:
            st.info("Nothing to save: no cell was changed.")
            return
        with ui.reported():
            try:
                changed = library.save_edits(store, edits, ui.actor())
            except StaleEditError as e:
                drop_grid_edits()  # reload: the grid shows their text, the refusal shows yours
                ss["flash_error"] = stale_message(e)
                st.rerun()
            drop_grid_edits()
            flash(f"Saved {len(changed)} component(s).")
            st.rerun()


def stale_message(error: StaleEditError, shows: str = "the grid now shows") -> str:
    """The refusal of a stale save: per atom (or template) who changed it and when, their text
    and yours."""
    lines = [("Not saved: the library changed since you opened it. Nothing of this save was "
              f"written; {shows} the current texts. Apply your change again if it "
              "still holds.")]
    for c in error.conflicts:
        lines.append(
            f"- {c.subject.capitalize()} #{c.component_id} was changed by "
            f"{_md_text(c.changed_by)} at {_md_text(c.changed_at)} (you opened version {c.based_on}, it is now version "
            f"{c.version}).  \n  Their text: {_md_text(c.their_text)}  \n"
            f"  Your text: {_md_text(c.your_text)}")
    return "\n".join(lines)


def add_tab(store, kinds, segments, frozen: bool) -> None:
    with st.form("add_component", clear_on_submit=False):
        c1, c2 = st.columns(2)
        kind = c1.selectbox("Kind", list(kinds), format_func=kinds.get, key="add_kind")
        segment = c2.selectbox("Segment", [ALL, *segments], key="add_segment")
        text = st.text_area("Text", key="add_text", height=80)
        c1, c2, c3, c4 = st.columns(4)
        offer_type = c1.selectbox("Offer type", ["", *OFFER_TYPES], key="add_offer_type")
        category = c2.text_input("Product category", key="add_category",
                                 placeholder="restaurants, groceries, retail, any")
        tone = c3.selectbox("Tone", ["", *TONES], key="add_tone")
        tags = c4.text_input("Tags", key="add_tags", placeholder="weekend; family")
        if st.form_submit_button("Add component", disabled=frozen):
            with ui.reported():
                cid = library.add_component(store, {
                    "kind": kind, "text": text, "segment": "" if segment == ALL else segment,
                    "offer_type": offer_type, "product_category": category, "tone": tone,
                    "tags": tags}, ui.actor())
                flash(f"Added component #{cid}.")
                st.rerun()


def import_export_tab(store, frozen: bool) -> None:
    st.markdown("**Import** a CSV or JSON file with columns "
                f"`{', '.join(library.IMPORT_COLUMNS)}`. Rows with an id update that component; "
                "rows without one add a new atom. One bad row rejects the whole file.")
    # A new key after each import empties the uploader, so a file is never imported twice.
    upload = st.file_uploader("Library file", type=["csv", "json"],
                              key=f"import_file_{st.session_state.setdefault('import_gen', 0)}",
                              max_upload_size=library.MAX_IMPORT_BYTES // 2 ** 20)
    if st.button("Import", key="import_button", disabled=frozen or upload is None):
        with ui.reported():
            result = library.import_components(store, upload.getvalue(), upload.name,
                                               ui.actor())
            keep_grid_edits()  # the rows changed: unsaved edits stay, by id, with a warning
            st.session_state["import_gen"] += 1
            flash(f"Imported {ui.plain(upload.name)}: {result}.")
            st.rerun()
    st.markdown("**Export** the whole library, archived atoms included.")
    c1, c2 = st.columns(2)
    path = store.path  # built on download, on a connection of its own
    c1.download_button("Download CSV", lambda: export(path, "csv"), "components.csv",
                       "text/csv", key="export_csv", on_click="ignore")
    c2.download_button("Download JSON", lambda: export(path, "json"), "components.json",
                       "application/json", key="export_json", on_click="ignore")


def export(path: str, fmt: str) -> str:
    from store import Store

    with Store(path) as store:
        return library.export_components(store, fmt)


def history_tab(store, frozen: bool) -> None:
    rows = store.components()
    if not rows:
        st.info("The library is empty.")
        return
    labels = {r["id"]: f"#{r['id']} · {r['kind']} · {r['text'][:60]}" for r in rows}
    cid = st.selectbox("Component", list(labels), format_func=labels.get, key="history_id")
    comp = store.component(cid)
    st.markdown(f"**{_md_text(comp['text'])}**  \nstatus **{comp['status']}** · version "
                f"{comp['version']} · last changed by {comp['updated_by']} at {comp['updated_at']}")
    target = "archived" if comp["status"] == "active" else "active"
    label = "Archive" if target == "archived" else "Restore"
    if st.button(label, key="status_button", disabled=frozen):
        with ui.reported():
            # The version shown on the run the person clicked from: a change since is refused.
            seen = st.session_state.get("history_seen", {})
            library.set_status(store, [cid], target, ui.actor(), based_on={
                cid: seen.get(cid, comp["version"])})
            keep_grid_edits()
            flash(f"{label}d component #{cid}.")
            st.rerun()
    st.session_state["history_seen"] = {cid: comp["version"]}
    revs = pd.DataFrame(store.component_revisions(cid),
                        columns=["version", "action", "actor", "at", "old_text", "new_text"])
    st.dataframe(revs, hide_index=True, width="stretch", key="history_table", column_config={
        "version": "Version", "action": "Action", "actor": "By", "at": "At",
        "old_text": "Text before", "new_text": "Text after"})


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


def open_atom(component: dict) -> None:
    """Button callback: show the Library tab filtered down to ``component``'s row."""
    ss = st.session_state
    if _grid_edits():
        keep_grid_edits()  # the rows shown change: unsaved edits stay, by id
    ss["components_tab"] = "Library"
    ss.update(f_kind=[component["kind"]], f_segment="Any", f_status=component["status"],
              f_search=component["text"])


def open_add(kind: str, segment: str | None) -> None:
    """Button callback: show the Add tab with ``kind`` (and the segment) chosen."""
    ss = st.session_state
    ss["components_tab"] = "Add"
    ss.update(add_kind=kind, add_segment=segment or ALL)


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


def preview_fixes(store, tpl, channel, pool, segment) -> None:
    """Each warning of the preview, with buttons that open what fixes it."""
    atoms = {a["id"]: a for a in store.components()}
    for n, w in enumerate(tpl_service.preview_warnings(tpl, channel, pool, segment)):
        st.warning(ui.plain(w.message))
        cols = st.columns(max(len(w.atom_ids) + 1, 3))
        cols[0].button(f"Edit template #{w.template_id}", key=f"pv_fix_tpl_{n}",
                       on_click=open_template, args=(w.template_id, w.field))
        for i, aid in enumerate(w.atom_ids, start=1):
            a = atoms[aid]
            cols[i].button(f"Open {a['kind']} #{aid}", key=f"pv_fix_atom_{n}_{aid}",
                           on_click=open_atom, args=(a,), help=ui.plain(a["text"]))
        if w.missing_kind:
            cols[1].button(f"Add a {w.missing_kind} atom", key=f"pv_fix_add_{n}",
                           on_click=open_add, args=(w.missing_kind, segment))


def preview_tab(store, segments) -> None:
    templates = [t for t in store.templates() if Template.from_row(t).slots]
    if not templates:
        st.info("No template with slots yet.")
        return
    channels = {c["id"]: c for c in store.channels()}
    c1, c2, c3 = st.columns(3)
    by_id = {t["id"]: t for t in templates}
    tid = c1.selectbox("Template", list(by_id), key="pv_template",
                       format_func=lambda i: by_id[i]["name"])
    tpl = by_id[tid]
    seg_options = [tpl["segment"]] if tpl["segment"] else segments
    segment = c2.selectbox("Segment", seg_options, key="pv_segment")
    ch_ids = list(channels)
    channel = c3.selectbox("Channel", ch_ids, index=ch_ids.index(tpl["channel"]),
                           format_func=lambda c: channels[c]["name"], key="pv_channel")
    template = Template.from_row(tpl)
    atoms = store.components(for_segment=segment, status="active")
    pool = pool_from_components(atoms)
    n_perm = count_permutations(template, pool, channels[channel])
    st.metric(f"Distinct {channels[channel]['name']} messages", f"{n_perm:,}")
    shown = template.slots_in(channel_fields(channels[channel]))
    st.caption("Atoms per slot: " + " × ".join(f"{{{s}}} {len(pool.get(s, []))}"
                                               for s in shown)
               + "".join(f" · {{{s}}} not shown on {channels[channel]['name']}"
                         for s in template.slots if s not in shown))
    preview_fixes(store, tpl, channels[channel], pool, segment)
    c1, c2 = st.columns([3, 1])
    n = c1.slider("Samples", 1, 12, 4, key="pv_n")
    if c2.button("Shuffle", key="pv_shuffle"):
        st.session_state["pv_seed"] = st.session_state.get("pv_seed", 0) + 1
    samples = sample_messages(template, pool, n, seed=st.session_state.get("pv_seed", 0),
                              channel=channels[channel])
    cols = st.columns(2)
    for i, msg in enumerate(samples):
        with cols[i % 2]:
            st.html(previews.render(msg, channels[channel]))


def main() -> None:
    store = ui.page("Components", "Atoms of every kind, permuted by the agent into messages.")
    frozen = store.current_mode() == "passive"
    if frozen:
        st.info("The library is frozen: passive management lets the agent run alone on the "
                "library it has. Switch to active management on the home page to edit.")
    flash_box = st.container()  # always present, so the tabs below keep their place
    if msg := st.session_state.pop("flash", None):
        flash_box.success(msg)
    if msg := st.session_state.pop("flash_error", None):
        flash_box.error(msg)
    kinds = {k["id"]: k["name"] for k in store.kinds()}
    segments = [s["id"] for s in store.segments()]
    # Tracked (a rerun on switch), so that a preview warning's button can open another tab.
    tabs = st.tabs(["Library", "Add", "Import / export", "History", "Templates", "Preview"],
                   key="components_tab", on_change="rerun")
    with tabs[0]:
        library_tab(store, kinds, segments, frozen)
    with tabs[1]:
        add_tab(store, kinds, segments, frozen)
    with tabs[2]:
        import_export_tab(store, frozen)
    with tabs[3]:
        history_tab(store, frozen)
    with tabs[4]:
        templates_tab(store, segments, frozen)
    with tabs[5]:
        preview_tab(store, segments)


main()
