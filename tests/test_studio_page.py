"""The rewrite studio page with AppTest, end to end against a real SQLite file."""

from __future__ import annotations

import socket

from streamlit.testing.v1 import AppTest

from store import open_store
from tests.conftest import ROOT
from workbench.studio import jobs, judging
from workbench.studio import pipeline as rw
from workbench.studio.performance import Thresholds

STUDIO = "pages/5_Rewrite_studio.py"


def studio(segment: str = "new_buyers") -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60).run()
    at.switch_page(STUDIO).run()
    at.selectbox(key="studio_segment").set_value(segment).run()
    return at


def rewrite_all(at: AppTest, segment: str = "new_buyers") -> AppTest:
    """Press "Rewrite all", let the background job finish, and rerun as the page's progress
    fragment would."""
    at.button(key="rewrite_all").click().run()
    assert jobs.wait(segment, timeout=60)
    return at.run()


def test_studio_lists_weak_messages_with_their_error_type_offline(db_path):
    at = studio()
    assert not at.exception and not at.error
    assert any("Offline rules engine" in i.value for i in at.info)
    # three agents take a model (LLM settings' tabs); it said "runs all four agents"
    assert not any("four agents" in i.value for i in at.info)
    assert any("runs the diagnosis, rewrite and evaluation agents" in i.value for i in at.info)
    table = at.dataframe[0].value
    assert list(table["error_type"]) == ["Misaligned tone"]
    assert "legal" in table["reason"].iloc[0] or "notice" in table["reason"].iloc[0]


def test_rewrite_all_then_accept_as_template(db_path):
    at = studio()
    rewrite_all(at)
    assert not at.exception and not at.error
    assert any("rewrite(s) ready" in s.value for s in at.success)
    with open_store(db_path) as s:
        (r,) = rw.rewrites(s, "new_buyers")
        assert r["status"] == "proposed" and "RM4" in r["rewrite"]["body"]
    at.button(key=f"acc_t_{r['id']}").click().run()
    assert any("Added template" in s.value for s in at.success)
    with open_store(db_path) as s:
        row = rw.rewrite_row(s, r["id"])
        new = s.template(row["accepted_template_id"])
        assert new["source"] == "rewrite" and new["parent_id"] == r["template_id"]


def test_accepting_a_rewrite_someone_accepted_meanwhile_says_who_and_when(db_path):
    """Two tabs show rewrite #1 proposed; one accepts it as a template. The other's "Accept as
    atoms", on a card drawn as proposed, is refused saying who accepted it and when; it is
    not swallowed by the card now drawn as accepted, and nothing is added."""
    at = studio()
    rewrite_all(at)
    with open_store(db_path) as s:
        (r,) = rw.rewrites(s, "new_buyers")
        (tid,) = rw.accept(s, r["id"], "alice", as_="template")  # the other tab
        decided = rw.rewrite_row(s, r["id"])
        components = s.components()
        templates = s.templates(status=None)
    at.button(key=f"acc_a_{r['id']}").click().run()
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error] == [
        f"rewrite #{r['id']} was already accepted by alice at {decided['decided_at']}; "
        "nothing was added"]
    assert not [m.value for m in at.success if m.value.startswith("Added")]
    with open_store(db_path) as s:
        assert s.components() == components and s.templates(status=None) == templates
        assert rw.rewrite_row(s, r["id"]) == decided


def test_blind_judgment_is_stored_then_revealed(db_path):
    at = studio()
    rewrite_all(at)
    with open_store(db_path) as s:
        (r,) = rw.rewrites(s, "new_buyers")
    assert any("wait for a colleague" in i.value for i in at.info)  # one's own: not blind
    at.text_input(key="actor").set_value("colleague").run()
    # the question names the segment as people know it, not by its id ("new_buyers")
    assert [m.value for m in at.markdown if m.value.startswith("Which message")] == [
        "Which message would you rather send to **New buyers**? (1 left for colleague)"]
    position = at.session_state["studio_orders"][r["id"]]
    at.radio(key=f"choice_{r['id']}").set_value(position)
    at.button[[b.label for b in at.button].index("Submit blind judgment")].click().run()
    assert not at.exception
    reveal = [s.value for s in at.success if s.value.startswith("Revealed")]
    assert reveal and f"message {position} was the rewrite" in reveal[0]
    assert "You preferred the rewrite" in reveal[0]
    with open_store(db_path) as s:
        (j,) = judging.judgments(s, r["id"])
        assert (j["rewrite_position"], j["choice"], j["preferred"]) == (position, position,
                                                                         "rewrite")
    assert any("Nothing left" in i.value for i in at.info)
    people = at.dataframe[-1].value
    assert people.set_index("segment").loc["Overall", "rewrite_preferred"] == 1


def test_a_backend_that_is_down_shows_a_clear_message_and_no_crash(db_path, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("WORKBENCH_LLM_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("WORKBENCH_LLM_MODEL", "nobody-home")
    monkeypatch.setenv("WORKBENCH_LLM_MAX_RETRIES", "0")
    at = studio()
    assert any("nobody-home" in c.value.replace("\\", "") for c in at.caption)  # escaped
    rewrite_all(at)
    assert not at.exception
    assert at.error and "The rewrite stopped" in at.error[0].value
    assert "reach" in at.error[0].value.lower() or "connect" in at.error[0].value.lower()
    with open_store(db_path) as s:
        assert rw.rewrites(s) == []
        assert rw.runs(s)[0]["status"] == "failed"


def test_a_rewrite_job_runs_off_the_callers_thread_to_100_percent_and_stores_its_rewrites(
        db_path):
    with open_store(db_path) as s:
        weak = [int(i) for i in rw.Studio(s).weak_messages("lapsing_buyers")["template_id"]]
    assert weak
    jobs.start(str(db_path), "lapsing_buyers", weak, "tester",
               thresholds=Thresholds(weak_below=25))
    assert jobs.wait("lapsing_buyers", timeout=120)
    state = jobs.job(str(db_path), "lapsing_buyers")
    with open_store(db_path) as s:
        made = rw.rewrites(s, "lapsing_buyers")
        (run,) = rw.runs(s, "lapsing_buyers")
    assert (state.status, state.done, state.total, state.share) == ("done", len(weak),
                                                                    len(weak), 1.0)
    assert (state.run_id, state.rewrites, run["status"], run["done"]) == (
        run["id"], len(weak), "done", len(weak))
    assert sorted(r["template_id"] for r in made) == sorted(weak)
    assert {r["created_by"] for r in made} == {"tester"}
    jobs.forget("lapsing_buyers")
    assert jobs.job(str(db_path), "lapsing_buyers") is None


def test_a_rewrite_job_that_fails_says_why(db_path):
    jobs.start(str(db_path), "no_such_segment", [1], "tester")
    assert jobs.wait("no_such_segment", timeout=30)
    state = jobs.job(str(db_path), "no_such_segment")
    jobs.forget("no_such_segment")
    assert state.status == "failed" and "no_such_segment" in state.message


def test_a_rewrite_job_on_a_busy_database_says_so_in_words(db_path, monkeypatch):
    """Another connection holds the write lock for the whole job: the job fails with a
    sentence, not an exception's class name, and the run it may have registered does not
    hide that reason."""
    import store as store_module
    from tests.conftest import write_lock_held

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 50)
    with open_store(db_path) as s:
        weak = [int(i) for i in rw.Studio(s).weak_messages("lapsing_buyers")["template_id"]]
    with write_lock_held(db_path):
        jobs.start(str(db_path), "lapsing_buyers", weak[:1], "tester",
                   thresholds=Thresholds(weak_below=25))
        assert jobs.wait("lapsing_buyers", timeout=60)
    state = jobs.job(str(db_path), "lapsing_buyers")
    jobs.forget("lapsing_buyers")
    assert (state.status, state.message) == ("failed", jobs.BUSY)
    with open_store(db_path) as s:
        assert rw.rewrites(s, "lapsing_buyers") == []


def test_names_and_model_texts_show_as_typed_not_as_markdown(db_path):
    """A template name (typed by a marketer) and what the models write are data: dollar signs
    must not turn into formulas, nor a Markdown image into a request for it."""
    import ui
    from workbench.library.templates import save_template

    with open_store(db_path) as s:
        weak = rw.Studio(s, thresholds=Thresholds()).weak_messages("new_buyers")
        tid = int(weak["template_id"].iloc[0])
        name = "Save $5 now, $10 later **bold** ![x](http://example.invalid/x.png)"
        save_template(s, tid, {"name": name}, "t", based_on=s.template(tid)["version"])
    at = studio()
    assert not at.exception
    assert [e.label for e in at.expander][0].startswith(f"#{tid} {ui.plain(name)}: ")
    rewrite_all(at)
    shown = [m.value for m in at.markdown]
    assert any(f"rewrite of *{ui.plain(name)}*" in v for v in shown)
    assert not any(name in v for v in shown)  # never unescaped


def test_every_studio_table_names_its_columns_in_words(db_path):
    """The weak list and the results showed template_id, error_type, aud_ori... as headers."""
    import json

    at = studio()
    rewrite_all(at)
    assert len(at.dataframe) >= 2  # the weak messages and the model judge's results
    for frame in at.dataframe:
        labels = json.loads(frame.proto.columns)
        for column in frame.value.columns:
            label = labels.get(column, {}).get("label", "")
            assert label and "_" not in label, (column, label)
    results = at.dataframe[-1].value
    assert set(results["preferred"]) <= {"rewrite", "original", "tie"}


def test_accepting_as_atoms_a_rewrite_whose_texts_are_all_in_the_library_says_so(db_path):
    """The same weak message rewritten twice (the offline engine writes the same draft): the
    second accepted as atoms said "Added 0 atom(s) to the library." and was marked accepted
    with nothing added. It is refused, naming the atoms already there and what to do, and
    stays proposed."""
    at = studio()
    rewrite_all(at)
    with open_store(db_path) as s:
        (first,) = rw.rewrites(s, "new_buyers")
    at.button(key=f"acc_a_{first['id']}").click().run()
    assert any(m.value.startswith("Added ") for m in at.success)
    with open_store(db_path) as s:
        added = [c for c in s.components() if c["source"] == "rewrite"]
    assert added
    rewrite_all(at)
    with open_store(db_path) as s:
        second = next(r for r in rw.rewrites(s, "new_buyers", status="proposed"))
        components = s.components()
    assert second["rewrite"] == first["rewrite"]
    at.button(key=f"acc_a_{second['id']}").click().run()
    assert not at.exception
    assert not [m.value for m in at.success if m.value.startswith("Added")]
    (error,) = [e.value.replace("\\", "") for e in at.error]
    assert f"rewrite #{second['id']} was not accepted as atoms" in error
    assert all(f"{c['kind']} #{c['id']}" in error for c in added)
    assert "accept it as a template, or dismiss it" in error
    with open_store(db_path) as s:
        assert s.components() == components
        assert rw.rewrite_row(s, second["id"])["status"] == "proposed"


def test_rewrite_all_leaves_out_a_message_whose_rewrite_still_waits(db_path):
    """"Rewrite all" pressed again while the segment's rewrite was still proposed wrote the
    same draft a second time (two identical cards to judge and accept). The weak list names
    the waiting rewrite and Rewrite all leaves that message out (disabled when none is left)."""
    at = studio()
    rewrite_all(at)
    with open_store(db_path) as s:
        (r,) = rw.rewrites(s, "new_buyers")
    button = at.button(key="rewrite_all")
    assert button.disabled
    assert button.label == "Rewrite all 0 weak messages without a waiting rewrite"
    assert list(at.dataframe[0].value["waiting"]) == [f"#{r['id']}"]
    assert any("1 of these messages has a rewrite waiting" in c.value for c in at.caption)
    at.button(key=f"dismiss_{r['id']}").click().run()  # decided: it may be rewritten again
    assert at.button(key="rewrite_all").label == "Rewrite all 1 weak message"
    rewrite_all(at)
    with open_store(db_path) as s:
        assert [x["status"] for x in rw.rewrites(s, "new_buyers")] == ["dismissed", "proposed"]
