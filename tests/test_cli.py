"""The ``workbench`` command: db path/migrate/backup, seed, clear errors for every bad flag, file
and database, and a README that documents exactly the commands that exist."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest

from store import open_store
from store.migrations import LATEST_VERSION
from workbench import WorkbenchError
from workbench.agent.state import batches
from workbench.cli import cli, main

README = Path(__file__).resolve().parent.parent / "README.md"


def test_db_path_prints_the_configured_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "x.db"))
    assert main(["db", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "x.db")
    assert main(["--db", str(tmp_path / "y.db"), "db", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "y.db")
    assert os.environ["WORKBENCH_DB"] == str(tmp_path / "x.db")  # --db was for one call
    monkeypatch.chdir(tmp_path)  # a relative file is printed with its folder
    assert main(["--db", "z.db", "db", "path"]) == 0
    assert capsys.readouterr().out.strip() == str((tmp_path / "z.db").resolve())


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
    # a live programme's folder beside the file: the backup warns, the reset moves it along
    live = Path(str(db_path) + ".live")
    (live / "roster").mkdir(parents=True)
    (live / "roster" / "part.parquet").write_bytes(b"PAR1")
    assert main(["db", "backup", str(tmp_path / "c.db")]) == 0
    assert capsys.readouterr().err.strip() == (
        f"warning: the live programme's roster, decisions and events are in {live}, which "
        f"this copy does not include; copy that folder to {tmp_path / 'c.db'}.live with the "
        "programme stopped")
    assert main(["seed", "--reset"]) == 0
    out = capsys.readouterr().out
    backup = re.search(r"backed up to (\S+)", out).group(1)
    assert Path(backup).exists()
    moved = Path(re.search(r"its live programme \(roster, decisions, events\) moved to (\S+)",
                           out).group(1))
    assert not live.exists() and (moved / "roster" / "part.parquet").read_bytes() == b"PAR1"
    assert moved.name == Path(backup).stem + ".live"
    with open_store(db_path) as s:
        assert s.current_mode() == "active" and s.counts()["components"] == n


def test_db_backup_copies_the_committed_rows_while_another_connection_holds_a_write(
        db_path, tmp_path, capsys):
    with open_store(db_path) as writer, writer.transaction():
        writer.insert_component({"kind": "greeting", "text": "not committed yet"}, "other")
        with open_store(db_path) as reader:
            committed = {"components": reader.components(), "templates": reader.templates(
                status=None), "audit": reader.audit_log(10_000)}
        assert main(["db", "backup", str(tmp_path / "copy.db")]) == 0
    assert capsys.readouterr().out.strip() == f"backed up {db_path} to {tmp_path / 'copy.db'}"
    with open_store(db_path) as original:
        assert len(original.components()) == len(committed["components"]) + 1
    with open_store(tmp_path / "copy.db", migrate=False) as copy:
        assert copy.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.schema_version == LATEST_VERSION
        assert {"components": copy.components(), "templates": copy.templates(status=None),
                "audit": copy.audit_log(10_000)} == committed


def test_db_backup_of_a_missing_file_fails_and_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "none.db"))
    assert main(["db", "backup", str(tmp_path / "copy.db")]) == 1
    assert "none.db does not exist; nothing to back up" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- clear errors, never tracebacks (issue 13, item 10) ----------------------------------------

def _usage_error(capsys, flag: str) -> str:
    err = capsys.readouterr().err
    assert f"Invalid value for '{flag}'" in err and "Traceback" not in err
    return err


def test_decide_refuses_an_empty_users_file_before_logging_anything(db_path, tmp_path, capsys):
    (tmp_path / "users.csv").write_bytes(b"")
    assert main(["decide", "--users", str(tmp_path / "users.csv")]) == 2
    assert "is empty (0 bytes)" in _usage_error(capsys, "--users")
    with open_store(db_path) as s:
        assert batches(s) == []


def test_decide_refuses_an_impossible_start_date(db_path, capsys):
    assert main(["decide", "--synthetic", "5", "--start", "2026-13-45"]) == 2
    err = _usage_error(capsys, "--start")
    assert "'2026-13-45' is not a date; write it as YYYY-MM-DD" in err
    assert "month must be in 1..12" in err
    for far in ("9999-12-31", "0001-01-01"):  # send times in the year 10000 could not be read
        assert main(["decide", "--synthetic", "5", "--start", far]) == 2
        assert (f"'{far}' is out of range: give a day from 2000-01-01 to 2099-12-31"
                in _usage_error(capsys, "--start"))
    with open_store(db_path) as s:
        assert batches(s) == []


def test_decide_refuses_a_negative_number_of_synthetic_users(db_path, capsys):
    assert main(["decide", "--synthetic", "-5"]) == 2
    assert "-5 is not in the range x>=1" in _usage_error(capsys, "--synthetic")


@pytest.mark.parametrize("args, said", [
    (["--users", "10"], "Error: --users: is 10; it must be between 100 and 20,000,000"),
    (["--days", "14", "--active-days", "20", "--users", "500"],
     "Error: --active-days: is 20; it must be between 0 and the horizon of 14 days")])
def test_simulate_refuses_impossible_flags_as_a_usage_error_writing_nothing(db_path, capsys,
                                                                            args, said):
    """These exited 1 ("the command failed") after opening the database; a flag value out of
    range is a usage error (2), found before anything is written."""
    assert main(["simulate", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == said and "Traceback" not in err
    from workbench.sim.trial import latest_run

    with open_store(db_path) as s:
        assert latest_run(s) is None


def test_decide_needs_exactly_one_source_of_users(db_path, tmp_path, capsys):
    assert main(["decide"]) == 2
    assert "give exactly one of --users FILE.csv or --synthetic N" in capsys.readouterr().err


def test_decide_refuses_an_out_file_in_a_missing_folder_before_the_batch_is_logged(
        db_path, tmp_path, capsys):
    out = tmp_path / "missing" / "batch.csv"
    assert main(["decide", "--synthetic", "5", "--out", str(out)]) == 2
    err = _usage_error(capsys, "--out")
    assert f"the folder '{out.parent}' does not exist; create it first" in err
    with open_store(db_path) as s:
        assert batches(s) == []
    assert not out.parent.exists()


def test_ingest_refuses_an_as_of_that_is_not_a_date(db_path, tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text("decision_id,event,value,occurred_at\n")
    assert main(["ingest", str(events), "--as-of", "yesterday"]) == 2
    assert "'yesterday' is not a date; write it as YYYY-MM-DD" in _usage_error(capsys, "--as-of")


def test_decide_refuses_a_users_file_with_only_a_header(db_path, tmp_path, capsys):
    (tmp_path / "users.csv").write_text("user_id,segment\n")
    assert main(["decide", "--users", str(tmp_path / "users.csv")]) == 1
    assert capsys.readouterr().err == (f"error: {tmp_path / 'users.csv'} has no users, only a "
                                       "header line; nothing was decided\n")
    with open_store(db_path) as s:
        assert batches(s) == []


def test_ingest_rejects_a_field_over_128_kib_with_its_line(db_path, tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text("decision_id,event,value,occurred_at\n"
                      "d1,engagement,1,2026-11-24T10:00:00\n"
                      + "x" * 200_000 + ",engagement,1,2026-11-24T10:00:00\n")
    assert main(["ingest", str(events)]) == 1
    assert capsys.readouterr().err == ("error: The file was rejected:\n"
                                       "- row 3: has a field longer than 128 KiB\n")


def test_a_random_bytes_file_as_database_is_refused_untouched(tmp_path, capsys):
    path = tmp_path / "random.db"
    data = bytes(range(256)) * 64
    path.write_bytes(data)
    assert main(["--db", str(path), "db", "migrate"]) == 2
    assert "is not an SQLite database" in _usage_error(capsys, "--db")
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["random.db"]


def test_a_folder_as_database_is_refused(tmp_path, capsys):
    assert main(["--db", str(tmp_path), "seed"]) == 2
    assert f"{tmp_path} is a folder, not a database file" in _usage_error(capsys, "--db")


def test_a_read_only_database_file_is_refused_untouched(db_path, capsys):
    before = db_path.read_bytes()
    db_path.chmod(0o444)
    try:
        assert main(["--db", str(db_path), "decide", "--synthetic", "5"]) == 2
        assert "is read-only" in _usage_error(capsys, "--db")
        assert db_path.read_bytes() == before
    finally:
        db_path.chmod(0o644)


def test_a_bad_database_named_by_the_environment_fails_with_one_line(tmp_path, monkeypatch,
                                                                      capsys):
    path = tmp_path / "random.db"
    path.write_bytes(b"not a database at all, just some text" * 10)
    monkeypatch.setenv("WORKBENCH_DB", str(path))
    assert main(["decide", "--synthetic", "5"]) == 1
    assert capsys.readouterr().err == (f"error: {path} is not an SQLite database (its first "
                                       "bytes are not the SQLite header); the file was left "
                                       "untouched.\n")


def test_a_newer_schema_file_is_not_switched_to_wal_before_the_version_check(tmp_path, capsys):
    path = tmp_path / "newer.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    assert main(["--db", str(path), "db", "migrate"]) == 1
    assert "only knows up to version" in capsys.readouterr().err
    assert path.read_bytes() == before  # byte 18/19 would read 2, 2 in WAL mode
    assert before[18:20] == b"\x01\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.db"]


def test_python_m_workbench_exits_with_the_code_and_no_traceback(tmp_path):
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-m", "workbench", "--db", str(tmp_path), "db",
                           "path"], cwd=root, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(root)), timeout=120)
    assert proc.returncode == 2
    assert "is a folder, not a database file" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the README documents exactly the commands that exist -------------------------------------

def _leaf_commands(group: click.Group = cli, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaf_commands(command, (*path, name))
        else:
            yield (*path, name), command


def _options(command: click.Command, *, hidden: bool = True) -> set[str]:
    return {opt for p in command.params if isinstance(p, click.Option)
            and (hidden or not p.hidden) for opt in p.opts if opt.startswith("--")}


def _documented() -> dict[tuple[str, ...], set[str]]:
    """Each ``workbench ...`` entry of README's Command line block: its command words and every
    ``--flag`` written on its lines (usage and description)."""
    section = README.read_text(encoding="utf-8").split("## Command line", 1)[1]
    block = section.split("```text", 1)[1].split("```", 1)[0]
    documented: dict[tuple[str, ...], set[str]] = {}
    current: tuple[str, ...] | None = None
    for line in block.splitlines():
        if line.startswith("workbench"):
            usage = re.split(r"\s{2,}", line)[0].split()[1:]
            words = []
            for word in usage:
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                words.append(word)
            current = tuple(words)
            documented.setdefault(current, set())
        if current is not None:
            documented[current] |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", line))
    return documented


def test_every_cli_command_and_option_is_documented_in_the_readme():
    documented = _documented()
    assert _options(cli) <= documented[()], "a group option is not in README"
    for path, command in _leaf_commands():
        name = "workbench " + " ".join(path)
        assert path in documented, f"`{name}` is not in README's Command line section"
        missing = _options(command, hidden=False) - {"--help"} - documented[path]
        assert not missing, f"`{name}` options not in README: {sorted(missing)}"


def test_the_readme_documents_no_command_or_option_that_does_not_exist():
    commands = dict(_leaf_commands())
    for path, flags in _documented().items():
        name = "workbench " + " ".join(path)
        if path == ():
            assert flags <= _options(cli), f"README documents {flags - _options(cli)} on workbench"
            continue
        assert path in commands, f"README documents `{name}`, which does not exist"
        unknown = flags - _options(commands[path])
        assert not unknown, f"README documents {sorted(unknown)} for `{name}`, which it lacks"


def test_the_documentation_check_sees_every_command():
    assert sorted(" ".join(p) for p, _ in _leaf_commands()) == [
        "bench decide", "bench import", "bench lift", "bench programme", "bench regret",
        "bench simulate", "bench studio", "db backup", "db migrate", "db path", "decide",
        "event-limits", "ingest", "lift", "llm check", "llm serve", "programme day", "programme ingest",
        "programme roster", "rewrite", "run", "seed", "simulate"]


def test_bench_regret_quick_prints_a_table_with_the_ratio_to_mabwiser(capsys):
    assert main(["bench", "regret", "--env", "neutral", "--seeds", "1", "--quick"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("neutral:")
    assert "agent / mabwiser = " in out and "uniform" in out


def test_bench_regret_runs_only_the_players_asked_for_and_names_an_unknown_one(capsys):
    assert main(["bench", "regret", "--env", "neutral", "--seeds", "1", "--quick", "--json",
                 "--players", "uniform, oracle_ts"]) == 0
    row = json.loads(capsys.readouterr().out)["environments"]["neutral"]
    assert list(row["players"]) == ["uniform", "oracle_ts"]
    assert "agent_to_mabwiser" not in row
    # a flag's bad value is a usage error (exit 2) naming the flag
    assert main(["bench", "regret", "--env", "neutral", "--quick", "--players", "agent,nope"]) == 2
    err = capsys.readouterr().err
    assert "--players: unknown player 'nope'" in err
    for bad in (",", "uniform,uniform"):
        assert main(["bench", "regret", "--env", "neutral", "--quick", "--players", bad]) == 2
        assert "name each player once, at least one" in capsys.readouterr().err
    assert main(["bench", "regret", "--env", "nope", "--quick"]) == 2
    assert "--env: unknown environment 'nope'; one of neutral," in capsys.readouterr().err


def test_ingest_rejects_a_bad_pre_reward_file_naming_line_and_column(db_path, tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text("decision_id,event,value,occurred_at\n")
    pre = tmp_path / "pre.csv"
    pre.write_text("user_id,pre_reward\nu1,0.5\nu2,nan\n")
    assert main(["ingest", str(events), "--pre-reward", str(pre)]) == 1
    err = capsys.readouterr().err
    assert "row 2 field 'pre_reward'" in err and "not a finite number" in err  # data row 2


def test_simulate_cancel_removes_an_unfinished_run_and_refuses_an_unknown_one(db_path, capsys):
    from store import open_store
    from workbench.sim.trial import create_run, preset, run_row

    with open_store(db_path) as s:
        run_id = create_run(s, preset("quick_demo", users=500, days=14, active_days=7),
                            "tester")
    assert main(["simulate", "--cancel", str(run_id)]) == 0
    assert json.loads(capsys.readouterr().out) == {"run_id": run_id, "status": "cancelled"}
    with open_store(db_path) as s, pytest.raises(WorkbenchError):
        run_row(s, run_id)
    assert main(["simulate", "--cancel", "999"]) == 1


def test_decide_draws_fresh_randomness_per_batch_and_replays_a_recorded_seed(db_path, tmp_path,
                                                                             capsys):
    import pandas as pd

    users = tmp_path / "users.csv"
    pd.DataFrame({"user_id": [f"u{i}" for i in range(400)],
                  "segment": ["new_buyers", "lapsing_buyers"] * 200}).to_csv(users, index=False)
    outs = []
    for i, extra in enumerate([[], [], None]):
        out = tmp_path / f"b{i}.csv"
        if extra is None:  # replay the first batch with its recorded seed
            extra = ["--seed", str(outs[0][0]["seed"])]
        assert main(["decide", "--users", str(users), "--start", "2026-11-23", "--out", str(out),
                     *extra]) == 0
        outs.append((json.loads(capsys.readouterr().out), pd.read_csv(out)))
    (first, b0), (second, b1), (replay, b2) = outs
    assert first["seed"] != second["seed"]
    cols = ["user_id", "send", "channel", "send_at", "atoms"]
    assert not b0[cols].equals(b1[cols])
    assert replay["seed"] == first["seed"] and b2[cols].equals(b0[cols])


def test_programme_commands_run_a_day_from_roster_to_outbox_and_load_an_inbox(db_path, tmp_path,
                                                                             capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("user_id,segment\n" + "".join(
        f"u{i},{('new_buyers', 'lapsing_buyers')[i % 2]}\n" for i in range(300)))
    assert main(["programme", "roster", str(roster), "--joined-on", "2026-11-01"]) == 0
    capsys.readouterr()
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    assert main(["programme", "day", "--date", "2026-11-20", "--outbox", str(outbox)]) == 0
    first = json.loads(capsys.readouterr().out)
    written = sorted(p.name for p in outbox.iterdir())
    assert written == ["decisions-2026-11-20.csv"]
    body = (outbox / written[0]).read_bytes()
    assert main(["programme", "day", "--date", "2026-11-20", "--outbox", str(outbox)]) == 0
    json.loads(capsys.readouterr().out)
    assert (outbox / written[0]).read_bytes() == body  # a rerun rewrites the same batch
    assert first
    inbox.mkdir()
    (inbox / "events-1.csv").write_text("user_id,event,value,occurred_at\n"
                                        "u1,direct_open,1,2026-11-20T19:04:00+02:00\n")
    assert main(["programme", "ingest", "--inbox", str(inbox)]) == 0
    once = capsys.readouterr().out
    assert main(["programme", "ingest", "--inbox", str(inbox)]) == 0
    assert once != capsys.readouterr().out  # the second run finds nothing new
    assert main(["programme", "ingest", "--inbox", str(tmp_path / "missing")]) == 1
    capsys.readouterr()
    (inbox / "events-0-partial.csv").write_bytes(b"")  # half written: read the others anyway
    (inbox / "events-2.csv").write_text("user_id,event,value,occurred_at\n"
                                        "u1,engagement,1,2026-11-20T20:00:00+02:00\n")
    assert main(["programme", "ingest", "--inbox", str(inbox)]) == 1
    said = capsys.readouterr()
    assert json.loads(said.out)["loaded"] == 1  # events-2.csv (events-1.csv was loaded before)
    assert said.err.strip() == ("error: 1 file(s) rejected (events-0-partial.csv); the other 2 "
                                "were read (see the report's 'rejected')")
    capsys.readouterr()
    assert main(["lift", "--live", "--unadjusted", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["metric"] for r in rows} >= {"direct_open", "gmv"}
    # a running programme's numbers are an interim look, and its text says so first
    from workbench.lift.report import INTERIM_NOTE

    assert main(["lift", "--live", "--unadjusted"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        "Lift of the agent over business as usual (live programme)", INTERIM_NOTE]
    assert main(["lift", "--live", "--run", "1"]) == 2
