"""The ``workbench`` command: db path/migrate/backup, seed, and documentation of every command."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


from store import open_store
from store.migrations import LATEST_VERSION
from workbench.cli import build_parser, main

README = Path(__file__).resolve().parent.parent / "README.md"


def test_db_path_prints_the_configured_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "x.db"))
    assert main(["db", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "x.db")
    assert main(["--db", str(tmp_path / "y.db"), "db", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "y.db")


def test_db_migrate_reports_the_versions_applied(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "x.db"))
    assert main(["db", "migrate"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["from"], out["to"], out["applied"]) == (
        0, LATEST_VERSION, list(range(1, LATEST_VERSION + 1)))
    assert main(["db", "migrate"]) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == []


def test_db_on_a_newer_file_fails_with_a_clear_message(tmp_path, monkeypatch, capsys):
    path = tmp_path / "x.db"
    with open_store(path) as s:
        s.db.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    monkeypatch.setenv("WORKBENCH_DB", str(path))
    assert main(["db", "migrate"]) == 1
    assert "only knows up to version" in capsys.readouterr().err


def test_seed_then_backup_then_reset(db_path, tmp_path, capsys):
    assert main(["seed"]) == 0
    assert re.search(r"\d+ components, \d+ templates", capsys.readouterr().out)
    with open_store(db_path) as s:
        n = s.counts()["components"]
        s.record_mode("passive", "t")
    assert main(["db", "backup", str(tmp_path / "b.db")]) == 0
    with open_store(tmp_path / "b.db") as b:
        assert b.counts()["components"] == n and b.current_mode() == "passive"
    assert main(["db", "backup", str(tmp_path / "b.db")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["seed", "--reset"]) == 0
    out = capsys.readouterr().out
    backup = re.search(r"backed up to (\S+)", out).group(1)
    assert Path(backup).exists()
    with open_store(db_path) as s:
        assert s.current_mode() == "active" and s.counts()["components"] == n


def test_every_cli_command_is_documented_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, parser in sub.choices.items():
        assert f"workbench {name}" in readme, f"`workbench {name}` is not in README.md"
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:  # internal options are not documented
                continue
            for opt in action.option_strings:
                if opt.startswith("--") and opt != "--help":
                    assert opt in readme, f"`workbench {name} {opt}` is not in README.md"
