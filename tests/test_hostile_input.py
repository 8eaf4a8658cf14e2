"""Hostile and unlucky input, one test per case of issue 13 this layer answers for: stale edits
and imports, formula cells in CSV exports, secrets echoed by an LLM server, deep JSON, a reset
while the file is in use."""

from __future__ import annotations

import json

import pytest

from workbench import Conflict, StaleEditError, ValidationError
from workbench.library import service as library
from workbench.library.service import Edit


def snapshot(store):
    """Everything a library write may touch, to prove a rejected write changed nothing."""
    return (store.query("SELECT * FROM components ORDER BY id"),
            store.query("SELECT * FROM component_revisions ORDER BY id"),
            store.query("SELECT * FROM audit_log ORDER BY id"))


def _cta(store):
    return store.components(kind="cta", status="active")[0]


# -- optimistic concurrency -----------------------------------------------------------------

def test_second_tab_saving_an_atom_changed_since_it_opened_is_refused_with_both_texts(store):
    opened = _cta(store)  # both tabs open the same version
    library.save_edits(store, [Edit(opened["id"], {"text": "Tab one wins"},
                                    based_on=opened["version"])], "ana")
    now_row = store.component(opened["id"])
    before = snapshot(store)
    with pytest.raises(StaleEditError) as err:
        library.save_edits(store, [Edit(opened["id"], {"text": "Tab two overwrites"}, row=4,
                                        based_on=opened["version"])], "ben")
    assert err.value.conflicts == [Conflict(
        component_id=opened["id"], based_on=opened["version"], version=opened["version"] + 1,
        changed_by="ana", changed_at=now_row["updated_at"], your_text="Tab two overwrites",
        their_text="Tab one wins", row=4)]
    assert (f"row 4 (component #{opened['id']}) was changed by ana at {now_row['updated_at']} "
            "since you opened it") in str(err.value)
    assert "'Tab two overwrites'" in str(err.value) and "'Tab one wins'" in str(err.value)
    assert snapshot(store) == before


def test_save_based_on_the_current_version_goes_through(store):
    opened = _cta(store)
    assert library.save_edits(store, [Edit(opened["id"], {"text": "Fresh edit"},
                                            based_on=opened["version"])], "ana") == [opened["id"]]
    assert store.component(opened["id"])["version"] == opened["version"] + 1


def test_archiving_an_atom_edited_since_it_was_opened_is_refused(store):
    opened = _cta(store)
    library.save_edits(store, [Edit(opened["id"], {"text": "Edited meanwhile"})], "ana")
    with pytest.raises(StaleEditError):
        library.set_status(store, [opened["id"]], "archived", "ben",
                           based_on={opened["id"]: opened["version"]})
    assert store.component(opened["id"])["status"] == "active"


def test_reimporting_an_old_export_does_not_unarchive_what_was_archived_since(store):
    exported = library.export_components(store, "csv")
    victim = _cta(store)
    library.set_status(store, [victim["id"]], "archived", "ana")
    archived = store.component(victim["id"])
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        library.import_components(store, exported, "old.csv", "ben")
    stale = [p for p in err.value.problems if p.field == "version"]
    assert len(stale) == 1 and len(err.value.problems) == 1
    line = next(i for i, text in enumerate(exported.decode().splitlines(), start=1)
                if text.startswith(f"{victim['id']},"))
    assert stale[0].row == line
    assert stale[0].message.startswith(
        f"component #{victim['id']} was changed by ana at {archived['updated_at']} since this "
        f"file was exported (the file has version {victim['version']}, the library version "
        f"{archived['version']}); importing would change status 'archived' -> 'active'.")
    assert snapshot(store) == before


def test_reimporting_an_old_export_is_fine_for_rows_nobody_changed(store):
    exported = library.export_components(store, "json")
    victim = _cta(store)
    library.save_edits(store, [Edit(victim["id"], {"text": "Changed then changed back"})], "a")
    library.save_edits(store, [Edit(victim["id"], {"text": victim["text"]})], "a")
    result = library.import_components(store, exported, "old.json", "ben")
    assert (result.created, result.updated) == ([], [])


# -- import at scale ------------------------------------------------------------------------

def _csv_bytes(header, rows):
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


def test_a_maximum_size_import_lands_whole_with_one_revision_per_row(store):
    rows = [["greeting", f"Hello number {i}", "", "playful"]
            for i in range(library.MAX_IMPORT_ROWS)]
    result = library.import_components(store, _csv_bytes(["kind", "text", "segment", "tone"], rows),
                                       "big.csv", "ana")
    assert len(result.created) == library.MAX_IMPORT_ROWS
    stored = store.query(
        "SELECT c.text, c.tone, c.source, c.version, r.action, r.new_text, r.actor "
        "FROM components c JOIN component_revisions r ON r.component_id = c.id "
        "WHERE c.id IN (SELECT value FROM json_each(?)) ORDER BY c.id",
        [json.dumps(result.created)])
    assert stored == [{"text": f"Hello number {i}", "tone": "playful", "source": "import",
                       "version": 1, "action": "import", "new_text": f"Hello number {i}",
                       "actor": "ana"} for i in range(library.MAX_IMPORT_ROWS)]


def test_a_large_import_names_each_repeated_row_against_its_first_occurrence(store):
    existing = _cta(store)
    rows = [["greeting", f"Hi {i % 2500}"] for i in range(5000)]
    rows[4999] = ["cta", existing["text"].upper()]
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        library.import_components(store, _csv_bytes(["kind", "text"], rows), "dup.csv", "ana")
    messages = [(p.row, p.message) for p in err.value.problems]
    assert len(messages) == 2500
    assert messages[0] == (2502, "duplicate greeting atom: same text as row 2")
    assert messages[-1] == (5001, f"duplicate cta atom: same text as component #{existing['id']}")
    assert snapshot(store) == before


def test_bench_import_reports_times_counts_and_load():
    from workbench.bench import bench_import

    out = bench_import(rows=40)
    assert (out["benchmark"], out["rows"], out["created"], out["updated"], out["unchanged"]) == (
        "import", 40, 40, 40, 40)
    assert all(out[k] > 0 for k in ("create_seconds", "update_seconds", "unchanged_seconds",
                                    "peer_seconds", "peer_ratio_create"))
    assert out["load_average_1m"] >= 0
