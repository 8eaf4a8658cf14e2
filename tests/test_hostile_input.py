"""Hostile and unlucky input, one test per case of issue 13 this layer answers for: stale edits
and imports, formula cells in CSV exports, secrets echoed by an LLM server, deep JSON, a reset
while the file is in use."""

from __future__ import annotations

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
