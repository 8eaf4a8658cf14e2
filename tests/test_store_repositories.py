"""The store's repositories (decision log, agent rows, LLM rows, studio rows) read back exactly
what was written, and look up any number of ids."""

from __future__ import annotations

from store import agent as agent_store
from store import decisions as decisions_store
from store import llm as llm_store
from store import open_store
from store import studio as studio_store


def _decision(batch_id: int, user: int, *, send_at: str | None = None) -> dict:
    return {"id": f"{batch_id}-u{user:05d}", "batch_id": batch_id, "user_id": f"u{user:05d}",
            "arm": "agent", "send": int(send_at is not None), "channel": None, "weekday": None,
            "hour": None, "send_at": send_at, "template_id": None, "atoms": "{}",
            "policy_send": 1, "ctx": "{}", "propensity": 0.5, "p": "{}", "guardrails": 0}


def _batch(store, n: int, start_day: str = "2026-11-02") -> tuple[int, list[str]]:
    batch_id = decisions_store.insert_batch(store, actor="t", source="test", seed=1,
                                            start_day=start_day, n_users=n, n_sent=0)
    rows = [_decision(batch_id, u) for u in range(n)]
    decisions_store.insert_decisions(store, rows)
    return batch_id, [r["id"] for r in rows]


def test_lookups_by_more_ids_than_one_statement_takes_find_them_all_in_id_order(empty_store):
    n = 2 * decisions_store.CHUNK + 7
    batch_id, ids = _batch(empty_store, n)
    asked = list(reversed(ids)) + ["nope-1", "nope-2"]
    assert decisions_store.known_ids(empty_store, asked) == set(ids)
    assert [r["id"] for r in decisions_store.decisions(empty_store, ids=asked)] == sorted(ids)
    assert decisions_store.decisions(empty_store, ids=[]) == []
    assert len(decisions_store.decisions(empty_store, batch_id=batch_id)) == n
    assert decisions_store.latest_batch_id(empty_store) == batch_id


def test_learning_marks_rewards_and_late_events_add_to_them(empty_store):
    _, ids = _batch(empty_store, 3, start_day="2026-11-02")
    assert decisions_store.due_ids(empty_store, "2026-11-01") == []
    assert sorted(decisions_store.due_ids(empty_store, "2026-11-02")) == ids
    decisions_store.mark_learned(empty_store, [(1.5, ids[0]), (0.0, ids[1])])
    decisions_store.add_rewards(empty_store, [(2.0, ids[0])])
    rows = {r["id"]: r for r in decisions_store.decisions(empty_store)}
    assert [(rows[i]["learned"], rows[i]["reward"]) for i in ids] == [(1, 3.5), (1, 0.0),
                                                                       (0, 0.0)]
    assert decisions_store.learned_ids(empty_store, ids) == {ids[0], ids[1]}
    assert decisions_store.due_ids(empty_store, "2026-12-31") == [ids[2]]


def test_events_are_summed_per_decision_and_quarantine_keeps_a_line_once(empty_store):
    _, ids = _batch(empty_store, 2)
    events = [{"decision_id": ids[0], "event": "gmv", "value": v, "occurred_at": t,
               "source": "f.csv", "line": i + 2, "ingested_at": "2026-11-05T00:00:00Z"}
              for i, (v, t) in enumerate([(10.0, "2026-11-03T10:00:00"),
                                          (2.5, "2026-11-03T11:00:00")])]
    decisions_store.insert_events(empty_store, events)
    assert decisions_store.event_keys(empty_store, ids) == {
        (ids[0], "gmv", "2026-11-03T10:00:00"), (ids[0], "gmv", "2026-11-03T11:00:00")}
    assert decisions_store.event_totals(empty_store, ids) == [
        {"decision_id": ids[0], "event": "gmv", "v": 12.5}]
    bad = [(4, "x,y", "decision_id is empty")]
    decisions_store.insert_quarantine(empty_store, "f.csv", bad)
    decisions_store.insert_quarantine(empty_store, "f.csv", bad)
    assert [(q["source"], q["line"], q["raw"], q["reason"])
            for q in decisions_store.quarantine(empty_store)] == [
        ("f.csv", 4, "x,y", "decision_id is empty")]


def test_agent_settings_models_and_snapshots_read_back_as_written(empty_store):
    assert agent_store.setting(empty_store, "agent_config") is None
    agent_store.save_setting(empty_store, "agent_config", '{"a": 1}', "t")
    agent_store.save_setting(empty_store, "agent_config", '{"a": 2}', "t")
    assert agent_store.setting(empty_store, "agent_config") == '{"a": 2}'
    agent_store.save_models(empty_store, [
        {"dimension": "send", "state": b"\x00\x01", "n": 3, "updated_at": "x"}])
    assert agent_store.model_states(empty_store) == {"send": b"\x00\x01"}
    snap = {"dimension": "channel", "segment": "new", "option": "push", "label": "Push",
            "mean": 0.1, "sd": 0.2, "p_best": 0.5, "share": None}
    agent_store.save_snapshots(empty_store, [dict(snap, day="2026-11-03"),
                                             dict(snap, day="2026-11-02", share=0.25)])
    agent_store.save_snapshots(empty_store, [dict(snap, day="2026-11-03", mean=0.3)])
    got = agent_store.snapshots(empty_store, "channel", "new")
    assert [(r["day"], r["mean"], r["share"]) for r in got] == [("2026-11-02", 0.1, 0.25),
                                                              ("2026-11-03", 0.3, None)]


def test_llm_settings_cache_and_usage(tmp_path, empty_store):
    with open_store(tmp_path / "old.db", migrate=False) as unmigrated:
        assert llm_store.settings(unmigrated) == {}
    llm_store.save_settings(empty_store, "rewrite", {
        "base_url": "http://h/v1", "model": "m", "temperature": 0.2, "timeout_s": 30.0,
        "max_retries": 2}, "t")
    row = llm_store.settings(empty_store)["rewrite"]
    assert (row["base_url"], row["model"], row["updated_by"]) == ("http://h/v1", "m", "t")
    assert llm_store.cached_response(empty_store, "k") is None
    llm_store.cache_response(empty_store, "k", agent="rewrite", model="m", response='{"a": 1}')
    llm_store.cache_response(empty_store, "k", agent="rewrite", model="m", response='{"a": 2}')
    assert llm_store.cached_response(empty_store, "k") == '{"a": 2}'
    call = {"agent": "rewrite", "purpose": "p", "base_url": "http://h/v1", "model": "m",
            "cache_key": "k", "status": "ok", "attempts": 1, "prompt_tokens": 10,
            "completion_tokens": 5, "error": ""}
    llm_store.log_call(empty_store, dict(call, cached=0, latency_ms=100.0))
    llm_store.log_call(empty_store, dict(call, cached=1, latency_ms=0.0))
    assert [c["cached"] for c in llm_store.calls(empty_store)] == [1, 0]
    (usage,) = llm_store.usage(empty_store)
    assert (usage["calls"], usage["cached"], usage["prompt_tokens"],
            usage["mean_latency_ms"]) == (2, 1, 20, 100.0)


def test_runs_rewrites_and_judgments(store):
    template = next(t for t in store.templates() if t["segment"])
    run_id = studio_store.start_run(store, segment=template["segment"], engine="rules",
                                    config="{}", total=2, actor="t")
    studio_store.update_run(store, run_id, done=1)
    studio_store.update_run(store, run_id, status="failed", message="down")
    (run,) = studio_store.runs(store, template["segment"])
    assert (run["status"], run["done"], run["total"], run["message"]) == ("failed", 1, 2, "down")
    row = {"run_id": run_id, "template_id": template["id"], "segment": template["segment"],
           "engine": "rules", "path": "rule_based", "original": "{}", "rewrite": "{}",
           "created_at": "x", "created_by": "t"}
    first, second = (studio_store.insert_rewrite(store, row) for _ in range(2))
    studio_store.decide(store, first, "accepted", "ann", accepted_template_id=template["id"])
    assert [r["id"] for r in studio_store.rewrites(store, status="proposed")] == [second]
    assert studio_store.rewrite(store, first)["accepted_template_id"] == template["id"]
    assert studio_store.rewrite(store, second + 1) is None
    jid = studio_store.insert_judgment(store, {
        "rewrite_id": second, "judge": "ann", "rewrite_position": "A", "choice": "A",
        "preferred": "rewrite", "at": "x"})
    assert [j["id"] for j in studio_store.judgments(store, second)] == [jid]
    assert studio_store.judgments(store, first) == []
    (joined,) = studio_store.judgments_with_rewrites(store)
    assert (joined["segment"], joined["evaluation"]) == (template["segment"], "{}")
