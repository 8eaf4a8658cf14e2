"""The agent's public API at its edges: partial windows, double learns, infeasible atom
share caps and arguments of the wrong kind (refused as ValidationError naming them)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from workbench import ValidationError
from workbench.agent import ActionSpace, ActionSpaceError, Agent, AgentConfig, Guardrails


def _space():
    return ActionSpace.plain({"greeting": 3, "offer": 5})


def _users(n, prefix="u"):
    return pd.DataFrame({"user_id": [f"{prefix}{i}" for i in range(n)], "segment": "s"})


def _windows(cfg):
    """A batch learnt whole by one agent and as a partial window then its late events by
    another."""
    whole, parts = Agent(_space(), ["s"], cfg), Agent(_space(), ["s"], cfg)
    d = whole.decide(_users(3000), seed=2)
    rng = np.random.default_rng(2)
    early = ((rng.random(3000) < .04) & d.send).astype(float)
    later = ((rng.random(3000) < .03) & d.send).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole.learn(d, pd.DataFrame({"direct_open": early + later}))
        parts.learn(d, pd.DataFrame({"direct_open": early}), exposure=0.6)
        parts.learn(d, pd.DataFrame({"direct_open": later}), late=True, exposure=1.0,
                    counted=0.6)
    return whole, parts


def test_a_window_learnt_in_parts_ends_where_one_learn_would_with_a_fixed_noise():
    whole, parts = _windows(AgentConfig(learn_noise=False))
    for name, m in whole.models.items():
        p = parts.models[name]
        assert np.allclose(m.prior_var, p.prior_var, rtol=1e-9), name
        assert np.allclose(m.mean, p.mean, rtol=1e-7, atol=1e-12), name
    b1, b2 = (a.beliefs("slot:offer", {"segment": 0}) for a in (whole, parts))
    assert np.allclose(b1["sd"], b2["sd"], rtol=1e-9)
    nxt = _users(1000, "n")
    assert whole.decide(nxt, seed=5).equals(parts.decide(nxt, seed=5))


def test_a_window_learnt_in_parts_has_the_data_of_one_learn_with_a_learnt_noise():
    whole, parts = _windows(AgentConfig())
    for name, m in whole.models.items():
        p = parts.models[name]
        assert np.allclose(m.gram, p.gram, atol=1e-9) and np.allclose(m.xy, p.xy, atol=1e-12)


def _learnt(agent, n=500, seed=1):
    d = agent.decide(_users(n), seed=seed)
    agent.learn(d, pd.DataFrame({"direct_open": d.send.astype(int)}))
    return d


def test_the_same_batch_learnt_twice_is_refused_and_late_events_are_not():
    agent = Agent(_space(), ["s"])
    d = _learnt(agent)
    sd = agent.beliefs("slot:offer", {"segment": 0}).sd.to_numpy()
    for again in (d, d.iloc[:100]):
        with pytest.raises(ValidationError, match="learnt already") as e:
            agent.learn(again, pd.DataFrame({"direct_open": again.send.astype(int)}))
        assert e.value.problems[0].field == "decisions"
    assert np.array_equal(agent.beliefs("slot:offer", {"segment": 0}).sd, sd)
    agent.learn(d, pd.DataFrame({"direct_open": d.send.astype(int)}), late=True)
    agent = agent.add_atoms([{"id": 5000, "kind": "offer", "text": "new"}])
    with pytest.raises(ValidationError, match="learnt already"):
        agent.learn(d, pd.DataFrame({"direct_open": d.send.astype(int)}))
    # Another batch, even of the same users and seed once the posteriors moved, is learnt.
    _learnt(agent)


def test_a_maximum_atom_share_that_cannot_hold_is_refused_naming_the_slot():
    with pytest.raises(ValidationError, match="slot 'greeting'") as e:
        Agent(_space(), ["s"], AgentConfig(guardrails=Guardrails(max_atom_share=0.2)))
    assert e.value.problems[0].field == "max_atom_share"
    assert len(e.value.problems) == 1  # offer has 5 atoms: 20% can hold
    ok = Agent(_space(), ["s"], AgentConfig(guardrails=Guardrails(max_atom_share=1 / 3)))
    with pytest.raises(ValidationError, match="slot 'greeting'"):
        ok.retire_atoms([ok.space.dimension("slot:greeting").options[0].value])
    scoped = ok.add_atoms([{"id": 5000, "kind": "greeting", "text": "hi", "segment": "s"}])
    assert len(scoped.space.dimension("slot:greeting").options) == 4


@pytest.mark.parametrize("seed", [-1, "abc", 1.5, True])
def test_a_seed_that_is_not_a_whole_number_is_refused(seed):
    with pytest.raises(ValidationError) as e:
        Agent(_space(), ["s"]).decide(_users(5), seed=seed)
    assert e.value.problems[0].field == "seed"


@pytest.mark.parametrize("segments", [["s", "s"], "abc", ["s", 3], []])
def test_segments_must_be_a_list_of_distinct_names(segments):
    with pytest.raises(ValidationError) as e:
        Agent(_space(), segments)
    assert e.value.problems[0].field == "segments"


@pytest.mark.parametrize("kw", [{"prior_sd": float("inf")}, {"exploration": float("inf")},
                                {"noise_var": float("inf")}, {"holdout_share": "0.1"}])
def test_non_finite_or_text_configuration_is_refused(kw):
    with pytest.raises(ValidationError) as e:
        AgentConfig(**kw)
    assert [p.field for p in e.value.problems] == list(kw)


def test_users_not_in_a_frame_are_refused():
    with pytest.raises(ValidationError) as e:
        Agent(_space(), ["s"]).decide([{"user_id": "a", "segment": "s"}])
    assert e.value.problems[0].field == "users"


def test_learn_arguments_of_the_wrong_kind_are_refused_naming_them():
    agent = Agent(_space(), ["s"])
    u = _users(50)
    d = agent.decide(u, seed=1)
    out = pd.DataFrame({"direct_open": np.zeros(50)})
    cases = [(u, out, {}, "decisions"), (d.drop(columns=["ctx_segment"]), out, {}, "decisions"),
             (d, np.zeros(50), {}, "outcomes"), (d, out["direct_open"], {}, "outcomes"),
             (d, out, {"exposure": np.full(7, 0.5)}, "exposure")]
    for decisions, outcomes, kw, field in cases:
        with pytest.raises(ValidationError) as e:
            agent.learn(decisions, outcomes, **kw)
        assert e.value.problems[0].field == field, field
    agent.learn(d, out, exposure=np.full(50, 0.5))


def test_outcomes_in_another_order_than_the_decisions_are_refused_not_misassigned():
    """Rows are matched by position; outcomes sorted (or merged) into another order carry the
    decisions' index labels out of order, and would have taught each decision another one's
    events. Outcomes indexed otherwise (by user id, or a fresh range) match by position."""
    agent = Agent(_space(), ["s"], AgentConfig(holdout_share=0))
    d = agent.decide(_users(50), seed=1)
    hit = np.zeros(50)
    hit[:5] = 1
    out = pd.DataFrame({"direct_open": hit}, index=d.index)
    with pytest.raises(ValidationError) as e:
        agent.learn(d, out.iloc[::-1])
    assert [str(p) for p in e.value.problems] == [
        "field 'outcomes': has the decisions' index in another order, but rows are matched by "
        "position: pass outcomes.loc[decisions.index]"]
    assert agent.learn(d, out.iloc[::-1].loc[d.index]).decisions == 50
    again = Agent(_space(), ["s"], AgentConfig(holdout_share=0))
    d2 = again.decide(_users(50), seed=1)
    assert again.learn(d2, out.set_axis(d2["user_id"])).decisions == 50
    # decisions sorted, outcomes built in that order with a fresh index: row by row, as meant
    third = Agent(_space(), ["s"], AgentConfig(holdout_share=0))
    d3 = third.decide(_users(50), seed=1).sort_values("user_id")
    assert third.learn(d3, pd.DataFrame({"direct_open": hit})).decisions == 50


def test_agent_parts_of_the_wrong_kind_are_refused_naming_them():
    """A dict for the configuration, its reward or its guardrails, or models that are not
    posteriors, were taken and failed later with a raw AttributeError (at decide or learn)."""
    space = _space()
    cases = [(("abc", ["s"]), "space"), ((space, ["s"], {"holdout_share": 0}), "config"),
             ((space, ["s"], None, {"channel": 1}), "models"), ((space, ["s"], None, "m"),
                                                                "models")]
    for args, field in cases:
        with pytest.raises(ValidationError) as e:
            Agent(*args)
        assert [p.field for p in e.value.problems] == [field], field
    with pytest.raises(ValidationError) as e:
        AgentConfig(reward={"gmv": 1}, guardrails={"quiet_start": 1})
    assert [str(p) for p in e.value.problems] == [
        "field 'reward': must be a RewardWeights (e.g. RewardWeights(gmv=0.05)), not dict",
        "field 'guardrails': must be a Guardrails (e.g. Guardrails(frequency_cap_7d=2)), not "
        "dict"]
    earlier = Agent(space, ["s"])
    assert Agent(space, ["s"], None, earlier.models).models.keys() == earlier.models.keys()


def test_adding_and_retiring_atoms_refuse_what_would_go_wrong_silently_or_raw():
    """Each was accepted without a word (an atom of a segment the agent lacks is never
    offered; a retired id that is not offered retired nothing) or failed with a raw error."""
    agent = Agent(_space(), ["s"])
    offer = [o.value for o in agent.space.dimension("slot:offer").options]
    bad_adds = [
        ({"id": 5000, "kind": "offer", "text": "x"}, "must be a list of atom rows"),
        ([{"id": 5000, "kind": "offer", "text": "x", "tags": 5}],
         "row 1: tags must be a text ('a;b') or a list of texts, not 5"),
        ([{"id": 5000, "kind": "offer", "text": "x", "segment": "zz"}],
         "row 1: segment 'zz' is not one of this agent's (s)"),
        (["offer"], "row 1: a mapping of id, kind, text..., not str")]
    for atoms, said in bad_adds:
        with pytest.raises(ActionSpaceError, match=re.escape(said)):
            agent.add_atoms(atoms)
    grown = agent.add_atoms([{"id": 5000, "kind": "offer", "text": "x", "tags": ["a", "b"],
                              "segment": "s"}])
    new = grown.space.dimension("slot:offer").options[-1]
    assert (new.value, new.features[-2:], new.segment) == (5000, ("tag:a", "tag:b"), "s")
    for ids, said in [(99999, "must be a list of atom ids, not int"),
                      ([99999, offer[0]], "atom 99999 is not offered in this space"),
                      (["first"], "atom ids must be whole numbers")]:
        with pytest.raises(ActionSpaceError, match=re.escape(said)):
            agent.retire_atoms(ids)
    left = agent.retire_atoms([str(offer[0])]).space.dimension("slot:offer").options
    assert [o.value for o in left] == offer[1:]


@pytest.mark.parametrize("top", [0, -1, "x", 2.5, True])
def test_explain_refuses_a_top_that_is_not_a_whole_number_of_features(top):
    agent = Agent(_space(), ["s"])
    option = agent.space.dimension("slot:offer").options[0].value
    with pytest.raises(ValidationError) as e:
        agent.explain("offer", {"segment": "s"}, option, top=top)
    assert [p.field for p in e.value.problems] == ["top"]


def test_repeated_columns_and_flags_that_are_not_booleans_are_refused_by_name():
    """A users table with `segment` twice failed with a raw AttributeError; late="no" and
    same_space="no" were taken as true."""
    agent = Agent(_space(), ["s"], AgentConfig(holdout_share=0))
    u = _users(20)
    with pytest.raises(ValidationError) as e:
        agent.decide(pd.concat([u, u[["segment"]]], axis=1), seed=1)
    assert [str(p) for p in e.value.problems] == [
        "field 'segment': column 'segment' appears twice in the users table"]
    d = agent.decide(u, seed=1)
    out = pd.DataFrame({"direct_open": np.ones(20)})
    with pytest.raises(ValidationError) as e:
        agent.learn(d, pd.concat([out, out], axis=1))
    assert [str(p) for p in e.value.problems] == [
        "field 'direct_open': column 'direct_open' appears twice in the outcomes"]
    for flag in ("late", "same_space"):
        with pytest.raises(ValidationError) as e:
            agent.learn(d, out, **{flag: "no"})
        assert [str(p) for p in e.value.problems] == [
            f"field '{flag}': must be True or False, not 'no'"]
    assert agent.learn(d, out, late=np.bool_(False)).decisions == 20


def test_counted_without_late_is_refused_and_learns_nothing():
    """``counted`` is the exposure a late learn already counted; on a first learn it cut the
    decisions' weight (exposure - counted) without a word."""
    agent = Agent(_space(), ["s"], AgentConfig(holdout_share=0))
    d = agent.decide(_users(50), seed=3)
    before = {n: m.gram.copy() for n, m in agent.models.items()}
    out = pd.DataFrame({"direct_open": np.ones(50)})
    with pytest.raises(ValidationError) as e:
        agent.learn(d, out, exposure=1.0, counted=0.5)
    assert [str(p) for p in e.value.problems] == [
        "field 'counted': is the exposure already learnt, so it goes with late=True only"]
    assert all(np.array_equal(before[n], m.gram) for n, m in agent.models.items())
    assert agent.learn(d, out).decisions == 50


def test_decide_keeps_the_users_order_with_a_fresh_index_and_their_ids():
    agent = Agent(_space(), ["s"], AgentConfig(holdout_share=0))
    users = pd.DataFrame({"user_id": ["c", "a", "b"], "segment": "s"}, index=[10, 5, 7])
    batch = agent.decide(users, seed=1)
    assert batch.index.tolist() == [0, 1, 2]
    assert batch["user_id"].tolist() == ["c", "a", "b"]
