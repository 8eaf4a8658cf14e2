"""The SQLite layer: pragmas, migrations, transactions, revisions, backups."""

from __future__ import annotations

import sqlite3

import pytest

from store import NotFoundError, SchemaTooNewError, Store, StoreError, open_store
from store.migrations import LATEST_VERSION, MIGRATIONS


def test_file_is_opened_in_wal_with_foreign_keys_and_busy_timeout(tmp_path):
    with open_store(tmp_path / "w.db") as s:
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_new_file_records_every_migration(tmp_path):
    with open_store(tmp_path / "w.db") as s:
        assert s.schema_version == LATEST_VERSION
        assert [(m["version"], m["name"]) for m in s.applied_migrations()] == [
            (v, name) for v, name, _ in MIGRATIONS]
        assert s.migrate() == []


def test_older_file_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    # Build a version-1 file by hand, as an older workbench would have left it.
    with Store(path) as s:
        with s.transaction():
            s.db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                         "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            for sql in MIGRATIONS[0][2]:
                s.db.execute(sql)
            s.db.execute("INSERT INTO schema_migrations VALUES (1, 'v1', '2026-01-01T00:00:00Z')")
            s.db.execute("PRAGMA user_version = 1")
        s.upsert_reference("kinds", [{"id": "greeting", "name": "Greeting", "position": 1}])
        cid = s.insert_component({"kind": "greeting", "text": "Hello!"}, "old-version")
    with open_store(path) as s:
        assert s.schema_version == LATEST_VERSION
        assert s.component(cid)["text"] == "Hello!"
        assert s.db["templates"].exists() and s.db["management_events"].exists()
        assert [m["version"] for m in s.applied_migrations()] == list(range(1, LATEST_VERSION + 1))


def test_newer_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "new.db"
    with open_store(path) as s:
        s.db.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError, match=f"schema version {LATEST_VERSION + 1}"):
        open_store(path)
    assert path.read_bytes() == before


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.insert_component({"kind": "no-such-kind", "text": "x"}, "t")


def test_transaction_rolls_back_every_row_on_error(store):
    before = store.db["components"].count
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.insert_component({"kind": "greeting", "text": "One"}, "t")
            store.insert_component({"kind": "greeting", "text": "Two"}, "t")
            raise RuntimeError("boom")
    assert store.db["components"].count == before
    assert store.query("SELECT * FROM component_revisions WHERE new_text IN ('One', 'Two')") == []


def test_update_keeps_the_old_text_as_a_revision(store):
    cid = store.insert_component({"kind": "cta", "text": "Order now"}, "ana")
    store.update_component(cid, {"text": "Order tonight"}, "ben")
    revs = store.component_revisions(cid)
    assert [(r["version"], r["action"], r["old_text"], r["new_text"], r["actor"]) for r in revs] \
        == [(2, "edit", "Order now", "Order tonight", "ben"),
            (1, "create", None, "Order now", "ana")]
    assert store.component(cid)["version"] == 2


def test_missing_rows_raise_not_found(store):
    with pytest.raises(NotFoundError, match="#999999"):
        store.component(999999)
    with pytest.raises(NotFoundError):
        store.template(999999)


def test_backup_is_a_complete_readable_copy(tmp_path, store):
    src = tmp_path / "src.db"
    with open_store(src) as s:
        s.upsert_reference("kinds", [{"id": "cta", "name": "CTA", "position": 1}])
        s.insert_component({"kind": "cta", "text": "Tap here"}, "t")
        dest = s.backup(tmp_path / "copy.db")
        with pytest.raises(StoreError, match="already exists"):
            s.backup(dest)
    with open_store(dest) as copy:
        assert [c["text"] for c in copy.components()] == ["Tap here"]


def test_management_mode_is_recorded_with_who_and_when(store):
    assert store.current_mode() == "active"
    store.record_mode("passive", "manager", "hand over to the agent")
    assert store.current_mode() == "passive"
    event = store.management_events()[-1]
    assert (event["mode"], event["actor"], event["note"]) == (
        "passive", "manager", "hand over to the agent")
    assert store.audit_log(1)[0]["action"] == "mode:passive"
    with pytest.raises(sqlite3.IntegrityError):
        store.record_mode("sleeping", "manager")


def test_the_file_is_not_reopened_outside_sqlite_while_this_process_has_it_open(tmp_path,
                                                                              monkeypatch):
    """Closing a descriptor of the database file drops every POSIX lock this process holds on
    it, SQLite's included (the app saw "disk I/O error"). The header check reads the file with
    a plain open(), so it runs only while no connection of this process has the file open."""
    from pathlib import Path

    from store import Store

    path = tmp_path / "w.db"
    open_store(path).close()
    reads = []
    real_open = Path.open

    def spy(self, *args, **kwargs):
        if self.name == "w.db":
            reads.append(str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    first = Store(path)
    assert len(reads) == 1  # checked once, before SQLite touches it
    second, third = Store(path), Store(tmp_path / "." / "w.db")
    assert len(reads) == 1  # not again while connections are open
    for s in (second, third, first):
        s.close()
    Store(path).close()
    assert len(reads) == 2  # all closed: checked again
