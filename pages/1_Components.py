"""Components: author the atoms the agent permutes, and preview the messages they make."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from ui import previews
from ui.editing import flash, md_text, stale_message
from ui.template_editor import ALL, open_template, templates_tab
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

COLUMNS = ["id", "kind", "text", "segment", "offer_type", "product_category", "tone", "tags",
           "status", "version", "updated_by", "updated_at"]


def editor_key() -> str:
    return f"components_editor_{st.session_state.setdefault('editor_gen', 0)}"


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
    st.markdown(f"**{md_text(comp['text'])}**  \nstatus **{comp['status']}** · version "
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
