"""Hostile and unlucky input, one test per case of issue 13 this layer answers for: stale edits
and imports, formula cells in CSV exports, secrets echoed by an LLM server, deep JSON, a reset
while the file is in use."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from store import decisions as decisions_store
from workbench.agent.ingest import ingest_events
from workbench.agent.state import load_agent, record_batch
from workbench.agent.users import synthetic_users

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
    line = next(i for i, text in enumerate(exported.decode().splitlines(), start=0)
                if text.startswith(f"{victim['id']},"))  # data row 1: the line under the header
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
    assert messages[0] == (2501, "duplicate greeting atom: same text as row 1")
    assert messages[-1] == (5000, f"duplicate cta atom: same text as component #{existing['id']}")
    assert snapshot(store) == before


def test_bench_import_reports_times_counts_and_load():
    from workbench.bench import bench_import

    out = bench_import(rows=40)
    assert (out["benchmark"], out["rows"], out["created"], out["updated"], out["unchanged"]) == (
        "import", 40, 40, 40, 40)
    assert all(out[k] > 0 for k in ("create_seconds", "update_seconds", "unchanged_seconds",
                                    "peer_seconds", "peer_ratio_create"))
    assert out["load_average_1m"] >= 0


# -- formulas in CSV exports ----------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example/?q=1","Click")', "+cmd|' /C calc'!A0",
            "@SUM(1+1)", "-2+3 off today", "'Tis the season"]


def test_csv_export_neutralises_formula_cells_and_imports_back_unchanged(store):
    import csv
    import io

    # Visual atoms: no template uses them, so no channel limit gets in the way of the texts.
    ids = [library.add_component(store, {"kind": "visual", "text": text,
                                         "product_category": "=1+1"}, "ana")
           for text in FORMULAS]
    exported = library.export_components(store, "csv")
    cells = list(csv.DictReader(io.StringIO(exported.decode())))
    by_id = {int(r["id"]): r for r in cells}
    assert [by_id[i]["text"] for i in ids] == ["'" + t for t in FORMULAS]
    assert {by_id[i]["product_category"] for i in ids} == {"'=1+1"}
    assert not [v for r in cells for v in r.values() if v[:1] in ("=", "+", "-", "@")]
    before = snapshot(store)
    result = library.import_components(store, exported, "library.csv", "ben")
    assert (result.created, result.updated, result.unchanged) == ([], [], len(cells))
    assert snapshot(store)[:2] == before[:2]
    assert [store.component(i)["text"] for i in ids] == FORMULAS


def test_a_hand_written_quoted_formula_cell_imports_as_its_text(store):
    result = library.import_components(
        store, _csv_bytes(["kind", "text"], [["cta", "'=Order now"]]), "mine.csv", "ana")
    assert store.component(result.created[0])["text"] == "=Order now"


# -- secrets echoed by a hostile LLM server -------------------------------------------------

SECRET = "sk-hostile-0123456789abcdef-KEY"
SCHEMA = {"type": "object", "properties": {"score": {"type": "integer"},
                                           "reason": {"type": "string"}},
          "required": ["score", "reason"]}


def _llm(server, store, **kw):
    from workbench.studio.llm import BackendConfig, LLMClient

    cfg = BackendConfig(agent="evaluation", base_url=server.base_url, model="scripted",
                        api_key=SECRET, max_retries=0, **kw)
    return LLMClient(cfg, store, sleep=lambda s: None)


def _ask(client):
    return client.complete_json(system="Judge.", user="Rate this.", schema=SCHEMA,
                                purpose="judge", max_tokens=40)


def _stored_text(store) -> str:
    return json.dumps([store.query(f"SELECT * FROM {table}")
                       for table in ("llm_cache", "llm_calls", "rewrite_runs")])


def test_a_key_echoed_inside_a_valid_answer_is_neither_returned_nor_cached(store):
    from tests.scripted_server import ScriptedServer

    answer = json.dumps({"score": 4, "reason": f"you sent {SECRET} and Bearer {SECRET[::-1]}"})
    with ScriptedServer([answer]) as server:
        value = _ask(_llm(server, store))
    assert value == {"score": 4, "reason": "you sent *** and Bearer ***"}
    assert json.loads(store.query("SELECT response FROM llm_cache")[0]["response"]) == value
    assert SECRET not in _stored_text(store)


def test_a_key_echoed_in_an_invalid_answer_stays_out_of_the_error_and_the_log(store):
    from tests.scripted_server import ScriptedServer
    from workbench.studio.llm import LLMError

    echo = f"not json, but your key: {SECRET} / {json.dumps(SECRET)}"
    with ScriptedServer([echo, echo]) as server:
        with pytest.raises(LLMError) as err:
            _ask(_llm(server, store))
    assert err.value.kind == "invalid_json"
    assert SECRET not in str(err.value) and SECRET not in err.value.message
    assert "your key: ***" in str(err.value)
    assert SECRET not in _stored_text(store)


def test_a_key_echoed_in_a_server_error_stays_out_of_the_error_and_the_log(store):
    from tests.scripted_server import Reply, ScriptedServer
    from workbench.studio.llm import LLMError

    upstream = "eyJhbGciOiJIUzI1NiJ9.upstream-session-token"  # not our key, still a secret
    reply = Reply(status=500, error=f"key {SECRET} rejected; upstream Authorization: Bearer "
                                    f"{upstream}")
    with ScriptedServer([reply]) as server:
        with pytest.raises(LLMError) as err:
            _ask(_llm(server, store))
    assert "key *** rejected; upstream Authorization: Bearer ***" in str(err.value)
    assert SECRET not in _stored_text(store) and upstream not in _stored_text(store)


def test_a_key_echoed_during_a_rewrite_run_stays_out_of_the_run_message(store):
    from tests.scripted_server import ScriptedServer
    from workbench.studio.embeddings import LexicalEmbedder
    from workbench.studio.llm import BackendConfig, LLMError
    from workbench.studio.performance import Thresholds
    from workbench.studio.pipeline import Studio, runs

    echo = f"I will not answer in JSON. Your key is {SECRET}."
    with ScriptedServer(default=lambda request: echo) as server:
        cfg = {a: BackendConfig(a, base_url=server.base_url, model="scripted", max_retries=0,
                                api_key=SECRET) for a in ("diagnosis", "rewrite", "evaluation")}
        studio = Studio(store, configs=cfg, embedder=LexicalEmbedder(),
                        thresholds=Thresholds(weak_below=50))
        with pytest.raises(LLMError) as err:
            studio.run_segment("new_buyers", "ana")
    run = runs(store, "new_buyers")[0]
    assert run["status"] == "failed" and run["message"] == str(err.value)
    assert "Your key is ***" in run["message"]
    assert SECRET not in _stored_text(store)


# -- seed --reset ---------------------------------------------------------------------------

def _runs_folder(db):
    folder = db.parent / f"{db.name}.runs" / "run_0001"
    folder.mkdir(parents=True)
    (folder / "checkpoint.pkl").write_bytes(b"old run's checkpoint")
    return folder.parent


def test_seed_reset_moves_the_old_runs_folder_away_with_the_file(db_path, capsys):
    import re

    from store import open_store
    from workbench.cli import main

    runs = _runs_folder(db_path)
    with open_store(db_path) as s:
        cid = _cta(s)["id"]
        library.save_edits(s, [Edit(cid, {"text": "Before the reset"})], "ana")
    assert main(["seed", "--reset"]) == 0
    out = capsys.readouterr().out
    moved = Path(re.search(r"simulation runs moved to (\S+)", out).group(1))
    backup = Path(re.search(r"backed up to (\S+)", out).group(1))
    assert not runs.exists()
    assert (moved / "run_0001" / "checkpoint.pkl").read_bytes() == b"old run's checkpoint"
    assert (moved.parent, backup.parent) == (db_path.parent / "backups",) * 2
    with open_store(backup) as old, open_store(db_path) as new:
        assert old.component(cid)["text"] == "Before the reset"
        assert new.component(cid)["text"] != "Before the reset"
        assert new.query("SELECT COUNT(*) AS n FROM sim_runs") == [{"n": 0}]


def test_seed_reset_is_refused_while_another_process_has_the_file_open(db_path, capsys):
    import subprocess
    import sys

    from store import open_store
    from workbench.cli import main

    runs = _runs_folder(db_path)
    other = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from store import open_store; "
         f"s = open_store({str(db_path)!r}); print('open', flush=True); sys.stdin.readline(); "
         "from workbench.library import service; "
         "cid = s.components(kind='cta')[0]['id']; "
         "service.save_edits(s, [service.Edit(cid, {'text': 'Saved after the refusal'})], 'ben')"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "open"
        before = db_path.read_bytes()
        assert main(["seed", "--reset"]) == 1
        err = capsys.readouterr().err
        assert f"is open in another process (pid {other.pid})" in err
        assert "nothing was changed" in err
        assert db_path.read_bytes() == before and (runs / "run_0001").exists()
        assert not (db_path.parent / "backups").exists()
    finally:
        other.communicate("go\n", timeout=60)
    assert other.returncode == 0
    with open_store(db_path) as s:  # the other process's edit landed in the file still in use
        assert _cta(s)["text"] == "Saved after the refusal"


# -- deeply nested JSON ---------------------------------------------------------------------

def test_json_nested_100k_deep_is_refused_with_a_clear_error(store):
    before = snapshot(store)
    data = ("[" * 100_000 + "]" * 100_000).encode()
    with pytest.raises(ValidationError) as err:
        library.import_components(store, data, "deep.json", "ana")
    assert [str(p) for p in err.value.problems] == [
        "the JSON is nested too deeply to be a library file (expected a list of component "
        "objects whose values are texts or numbers)"]
    assert err.value.summary == "The file could not be read"
    assert snapshot(store) == before


def test_json_value_that_is_a_list_or_object_is_refused_naming_row_and_field(store):
    before = snapshot(store)
    data = json.dumps([{"kind": "cta", "text": "Fine"},
                       {"kind": "cta", "text": [[["Order now"]]], "tags": {"a": 1}}]).encode()
    with pytest.raises(ValidationError) as err:
        library.import_components(store, data, "nested.json", "ana")
    assert [str(p) for p in err.value.problems] == [
        "row 2 field 'text': must be a text or a number, not a JSON list",
        "row 2 field 'tags': must be a text or a number, not a JSON object"]
    assert snapshot(store) == before


# -- outcome events: sanity, the clock, the send time, offsets, the late path ---------------

EVENT_START = date(2026, 11, 23)
#: A wall clock after the batch's sends but before any attribution window closes.
CLOCK = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _events_batch(store):
    agent = load_agent(store)
    d = agent.decide(synthetic_users(300, agent.segments, 3), seed=3, start=EVENT_START)
    return record_batch(store, agent, d, actor="t", source="test", seed=3,
                        start=EVENT_START)[1]


def _first_sent(rendered) -> tuple[str, datetime]:
    row = rendered[rendered["send"]].iloc[0]
    return row["decision_id"], pd.Timestamp(row["send_at"]).to_pydatetime()


def _ingest(store, lines, **kw):
    data = ("decision_id,event,value,occurred_at\n" + "".join(f"{x}\n" for x in lines)).encode()
    return ingest_events(store, load_agent(store), data, "e.csv", "t", **kw)


def _model_state(store):
    return {n: m.to_bytes() for n, m in load_agent(store).models.items()}


def test_a_binary_event_with_a_value_other_than_0_or_1_is_quarantined(store):
    did, sent = _first_sent(_events_batch(store))
    at = (sent + timedelta(hours=1)).isoformat()
    report = _ingest(store, [f"{did},direct_open,7,{at}", f"{did},engagement,1,{at}"],
                     clock=CLOCK)
    assert (report.inserted, report.quarantined) == (
        1, [(2, "value '7' of direct_open is not 0 or 1")])
    assert [r["reason"] for r in store.query("SELECT reason FROM quarantine")] == [
        "value '7' of direct_open is not 0 or 1"]


def test_a_huge_conversion_or_gmv_is_quarantined_and_does_not_poison_the_models(store):
    rendered = _events_batch(store)
    did, sent = _first_sent(rendered)
    at = (sent + timedelta(hours=1)).isoformat()
    clean = _ingest(store, [], as_of=date(2026, 12, 10))  # learns every decision as zero
    assert clean.learned == len(rendered)
    before = _model_state(store)
    report = _ingest(store, [f"{did},conversion,1e300,{at}", f"{did},gmv,1e300,{at}",
                             f"{did},gmv,100001,{at}"], as_of=date(2026, 12, 10))
    assert (report.inserted, report.late_corrections) == (0, 0)
    assert report.quarantined == [
        (2, "value '1e300' of conversion is not 0 or 1"),
        (3, "value '1e300' of gmv is over the plausible maximum 100000"),
        (4, "value '100001' of gmv is over the plausible maximum 100000")]
    assert _model_state(store) == before
    assert store.query("SELECT max(abs(reward)) AS m FROM decisions")[0]["m"] == 0.0
    # the maximum is a per-call setting: a use case with larger baskets can raise it
    raised = _ingest(store, [f"{did},gmv,100001,{at}"], as_of=date(2026, 12, 10),
                     max_value={"gmv": 1e6})
    assert (raised.inserted, raised.quarantined) == (1, [])


def test_an_event_dated_2099_is_quarantined_and_closes_no_attribution_window(store):
    rendered = _events_batch(store)
    did, sent = _first_sent(rendered)
    report = _ingest(store, [f"{did},direct_open,1,2099-01-01T00:00:00",
                             f"{did},engagement,1,{(sent + timedelta(hours=1)).isoformat()}"],
                     clock=CLOCK)
    assert report.quarantined == [
        (2, "occurred_at 2099-01-01T00:00:00 is in the future (after 2026-11-30T12:00:00)")]
    # as_of is the latest stored line's day (never a quarantined one, never past the clock)
    assert (report.inserted, report.as_of, report.learned) == (
        1, (sent + timedelta(hours=1)).date().isoformat(), 0)
    assert store.query("SELECT count(*) AS n FROM decisions WHERE learned = 1")[0]["n"] == 0
    # with an explicit as-of, "the future" is after that day
    later = _ingest(store, [f"{did},intent,1,2026-11-30T00:00:01"], as_of=date(2026, 11, 29))
    assert later.quarantined == [
        (2, "occurred_at 2026-11-30T00:00:01 is in the future (after 2026-11-29T23:59:59)")]


@pytest.mark.parametrize("lines", [["{did},direct_open,1,2099-01-01T00:00:00"], []],
                         ids=["only a future line", "header only"])
def test_a_file_with_no_stored_line_closes_no_attribution_window(store, lines):
    """With no line stored there is no day the data shows: the wall clock (weeks after every
    window closed) must not close them all and teach every open decision a zero reward."""
    rendered = _events_batch(store)
    did, _ = _first_sent(rendered)
    before = _model_state(store)
    report = _ingest(store, [x.format(did=did) for x in lines],
                     clock=datetime(2026, 12, 31, tzinfo=timezone.utc))
    assert (report.inserted, report.as_of, report.learned, report.partly_learned) == (
        0, None, 0, 0)
    assert report.to_dict()["as_of"] is None
    assert _model_state(store) == before
    assert store.query("SELECT count(*) AS n FROM decisions WHERE learned > 0")[0]["n"] == 0
    # a stored line's day then closes the windows it shows as closed, as before
    late = _ingest(store, [f"{did},engagement,1,2026-12-30T09:00:00"],
                   clock=datetime(2026, 12, 31, tzinfo=timezone.utc))
    assert (late.as_of, late.learned) == ("2026-12-30", len(rendered))


def test_an_event_before_its_decisions_send_is_quarantined(store):
    rendered = _events_batch(store)
    did, sent = _first_sent(rendered)
    early, late = sent - timedelta(minutes=1), sent + timedelta(minutes=1)
    hold = rendered.loc[rendered["arm"] == "holdout", "decision_id"].iloc[0]
    report = _ingest(store, [f"{did},direct_open,1,{early.isoformat()}",
                             f"{did},engagement,1,{late.isoformat()}",
                             f"{hold},direct_open,1,2026-11-22T23:00:00",
                             f"{hold},engagement,1,2026-11-23T01:00:00"], clock=CLOCK)
    assert report.inserted == 2
    assert report.quarantined == [
        (2, f"occurred_at {early.isoformat(timespec='seconds')} is before the send "
            f"({sent.isoformat(timespec='seconds')})"),
        (4, "occurred_at 2026-11-22T23:00:00 is before the send (2026-11-23T00:00:00)")]


def test_times_with_offsets_are_converted_to_utc_before_the_duplicate_key(store):
    rendered = _events_batch(store)
    did, sent = _first_sent(rendered)
    day = (sent + timedelta(days=1)).date().isoformat()
    report = _ingest(store, [f"{did},direct_open,1,{day}T10:00:00+02:00",
                             f"{did},direct_open,1,{day}T10:00:00Z",
                             f"{did},direct_open,1,{day}T08:00:00"], clock=CLOCK)
    assert (report.inserted, report.duplicates, report.quarantined) == (2, 1, [])
    assert [r["occurred_at"] for r in store.query(
        "SELECT occurred_at FROM outcome_events ORDER BY occurred_at")] == [
        f"{day}T08:00:00", f"{day}T10:00:00"]


def test_the_late_event_lookups_search_by_primary_key_not_by_the_open_decisions_index(store):
    rendered = _events_batch(store)
    ids = list(rendered["decision_id"])
    with store.transaction():
        decisions_store.mark_learned(store, [(0.0, i) for i in ids])
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        assert decisions_store.learned_ids(store, ids[:5]) == set(ids[:5])
        decisions_store.event_keys(store, ids[:5])
        decisions_store.send_times(store, ids[:5])
    finally:
        store.db.conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3
    for sql in selects:
        plan = " | ".join(r["detail"] for r in store.query(f"EXPLAIN QUERY PLAN {sql}"))
        assert "decisions_open" not in plan and "SCAN" not in plan, (sql, plan)


# -- user text displayed as data ------------------------------------------------------------

def test_plain_escapes_markdown_html_and_streamlit_directives_in_user_text():
    import re

    import ui
    text = "![x](http://evil.example/p.png) *bold* <img src=x> a_b $5 :red[hi] \\ # h"
    escaped = ui.plain(text)
    assert escaped == (r"\!\[x\]\(http\:\/\/evil\.example\/p\.png\) \*bold\* \<img src\=x\> "
                       r"a\_b \$5 \:red\[hi\] \\ \# h")
    # CommonMark reads every backslash-escaped punctuation character as itself: shown as typed
    assert re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", escaped) == text
    assert ui.plain(42) == "42"


def test_an_import_refusing_dollar_amounts_shows_them_as_typed(db_path):
    """A refused value is quoted in the error box: "$5 off, $10 back" must not become a
    formula between the dollar signs (problems escaped only * and _ before)."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30).run()
    at.switch_page("pages/1_Components.py").run()
    at.file_uploader(key="import_file_0").set_value(
        ("dollars.csv", b"kind,text,tone\ncta,Shop now,$5 off $10 back\n", "text/csv"))
    at.run()
    at.button(key="import_button").click().run()
    shown = at.error[0].value
    assert "\\$5 off \\$10 back" in shown and "$5 off $10" not in shown
    good = b"kind,text,tone\ncta,Shop now,playful\n"
    at.file_uploader(key="import_file_0").set_value(("$5 and $10.csv", good, "text/csv"))
    at.run()
    at.button(key="import_button").click().run()
    assert any("Imported \\$5 and \\$10\\.csv" in s.value for s in at.success)


# -- lift: refunds ----------------------------------------------------------------------------

def test_refunds_import_into_the_lift_report_as_negative_gmv_and_count_in_the_means():
    """Issue 13, case 12: refunds (negative values) could not be imported."""
    from workbench.lift import report as lift_report

    rows = ["u0,holdout,30", "u1,holdout,-10", "u2,holdout,0", "u3,holdout,20",
            *[f"a{i},agent,{v}" for i, v in enumerate([50, -25.5, 0, 0, 12, 40, -4.5, 8])]]
    data = lift_report.read_csv(("user_id,arm,gmv\n" + "\n".join(rows) + "\n").encode(),
                                "refunds.csv")
    assert data.outcomes["all"]["gmv"].tolist() == [30, -10, 0, 20, 50, -25.5, 0, 0, 12, 40,
                                                     -4.5, 8]
    row = lift_report.phase_table(data, adjusted=False).iloc[0]
    assert (row["metric"], row["status"]) == ("gmv", "ok")
    assert (row["mean_agent"], row["mean_holdout"]) == pytest.approx((80 / 8, 40 / 4))
    assert row["lift"] == pytest.approx(0.0)


# -- user text shown as data is never Markdown ----------------------------------------------

def test_posteriors_why_this_message_shows_atom_markdown_as_text_and_fetches_no_image(db_path):
    """Issue 13, case 9: an atom's Markdown rendered on Posteriors (an image was fetched from
    a URL in the text). Every atom here carries an image link; the message shown for a
    sampled user quotes it as text."""
    from streamlit.testing.v1 import AppTest

    from store import open_store
    from tests.conftest import ROOT

    with open_store(db_path) as s:
        # Every call to action (short enough for a push body beside the longest other atoms)
        atoms = s.components(kind="cta", status="active")
        library.save_edits(s, [Edit(a["id"], {"text": f"![x](http://ev.il/{a['id']}) *look*"})
                               for a in atoms], "mallory")
    at = AppTest.from_file(str(ROOT / "pages/2_Posteriors.py"), default_timeout=60).run()
    at.number_input(key="demo_users").set_value(200)
    at.button(key="decide_button").click().run()
    at.selectbox(key="post_dimension").set_value("channel").run()
    assert not at.exception
    sent = [m.value for m in at.markdown if m.value.startswith("Sent by")]
    assert len(sent) == 1
    assert "![x](" not in sent[0] and "*look*" not in sent[0]
    assert r"\!\[x\]\(http\:\/\/ev\.il\/" in sent[0] and r"\*look\*" in sent[0]


def test_components_history_shows_an_atoms_markdown_and_html_as_text(db_path):
    """Issue 13, case 9: Markdown in an atom's text rendered on Components > History."""
    from streamlit.testing.v1 import AppTest

    from store import open_store
    from tests.conftest import ROOT

    with open_store(db_path) as s:
        cid = s.components(kind="visual", status="active")[0]["id"]  # in no template
        library.save_edits(s, [Edit(cid, {"text": "![x](http://evil.example/p.png) **Buy** "
                                                  "<img src=x>"})], "mallory")
    at = AppTest.from_file(str(ROOT / "pages/1_Components.py"), default_timeout=60).run()
    at.selectbox(key="history_id").set_value(cid).run()
    assert not at.exception
    shown = [m.value for m in at.markdown if "evil" in m.value]
    assert len(shown) == 1
    assert shown[0].startswith(r"**\!\[x\]\(http://evil\.example/p\.png\) \*\*Buy\*\* "
                               r"\<img src=x\>**")
