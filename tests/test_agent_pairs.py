"""Pairwise slot interactions and the empirically-Bayes prior variances of the agent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import ValidationError
from workbench.agent import ActionSpace, Agent, AgentConfig, Guardrails
from workbench.agent.pairs import interaction_p, joint_dimension
from workbench.agent.users import synthetic_users

SEGS = ["a", "b"]
ALWAYS = Guardrails(always_send=True, frequency_cap_7d=100, quiet_start=0, quiet_end=0)


def users(n, seed, segments=SEGS):
    u = synthetic_users(n, segments, seed)
    for ch in ("push", "email", "sms", "in_app"):
        u[f"consent_{ch}"] = True
    return u


def play(agent, p_of, rounds, n=3000, seed=0):
    """Bernoulli opens at ``p_of(decisions)``; returns the decisions of the last round."""
    rng = np.random.default_rng(seed)
    for r in range(rounds):
        d = agent.decide(users(n, seed * 100 + r), seed=seed * 100 + r)
        agent.learn(d, pd.DataFrame({"direct_open": rng.random(len(d)) < p_of(d)}))
    return d


def pair_world(agent):
    """Atom 0 of s0 pays only with atom 3 of s1: alone it is the slot's worst."""
    a0 = agent.space.dimension("slot:s0").options[0].value
    a3 = agent.space.dimension("slot:s1").options[3].value

    def p(d):
        s0, s1 = d["atom_s0"].to_numpy(), d["atom_s1"].to_numpy()
        return 0.05 - 0.03 * (s0 == a0) + 0.08 * ((s0 == a0) & (s1 == a3))
    return p, a0, a3


def test_an_offer_that_pays_only_with_one_call_to_action_is_found_by_default():
    agent = Agent(ActionSpace.synthetic(slots=2, atoms_per_slot=4), SEGS,
                  AgentConfig(holdout_share=0.0, guardrails=ALWAYS))
    p, a0, a3 = pair_world(agent)
    d = play(agent, p, rounds=8)
    assert list(agent.pairs.active) == ["pair:s0+s1"]
    both = ((d["atom_s0"] == a0) & (d["atom_s1"] == a3)).mean()
    assert both > 0.8, both


def test_interactions_off_keeps_no_pair_model():
    agent = Agent(ActionSpace.synthetic(slots=2, atoms_per_slot=4), SEGS,
                  AgentConfig(holdout_share=0.0, guardrails=ALWAYS, interactions="off"))
    p, _, _ = pair_world(agent)
    play(agent, p, rounds=2)
    assert agent.pairs.policies == {} and agent.pairs.active == {}
    assert not any(name.startswith("pair:") for name in agent.models)


def test_no_pair_decides_when_the_slots_do_not_interact():
    agent = Agent(ActionSpace.synthetic(slots=2, atoms_per_slot=4), SEGS,
                  AgentConfig(holdout_share=0.0, guardrails=ALWAYS))
    ids = [o.value for o in agent.space.dimension("slot:s0").options]
    play(agent, lambda d: 0.04 + 0.02 * (d["atom_s0"].to_numpy() == ids[1]), rounds=6)
    assert agent.pairs.active == {}
    assert interaction_p(agent.pairs.policies["pair:s0+s1"].model) > 1e-3


def _dense_interaction_p(model):
    """The score test of :func:`interaction_p` from a dense least-squares fit of the main
    effects (a pseudo-inverse, no factor): the reference the block-factored test must give."""
    from scipy.stats import chi2
    G, b = model.gram, model.xy
    seen = np.diag(G) > 0
    pair = np.array([f.startswith("pair:") for f in model.features]) & seen
    main = seen & ~pair
    Gaa_inv = np.linalg.pinv(G[np.ix_(main, main)], rcond=1e-12, hermitian=True)
    Gap = G[np.ix_(main, pair)]
    score = b[pair] - Gap.T @ Gaa_inv @ b[main]
    var = model.noise_var * (np.diag(G)[pair] - np.einsum("ij,ij->j", Gap, Gaa_inv @ Gap))
    ok = var > 1e-9 * model.noise_var * np.diag(G)[pair]
    return min(1.0, ok.sum() * chi2.sf(np.max(score[ok] ** 2 / var[ok]), 1))


@pytest.mark.parametrize("segments", [["a"], [f"s{i}" for i in range(6)]])
def test_the_interaction_test_is_the_dense_least_squares_score_test(segments):
    """With several segments the test factors the main effects by segment; its p-value is the
    dense fit's, with and without an interaction in the data (the pair decides from the
    start, so every combination is served)."""
    agent = Agent(ActionSpace.synthetic(slots=2, atoms_per_slot=4), segments,
                  AgentConfig(holdout_share=0.0, guardrails=ALWAYS, interactions=[["s0", "s1"]]))
    p, _, _ = pair_world(agent)
    rng = np.random.default_rng(4)
    for r in range(6):
        d = agent.decide(users(3000, r, segments), seed=r)
        agent.learn(d, pd.DataFrame({"direct_open": rng.random(len(d)) < p(d)}))
    model = agent.pairs.policies["pair:s0+s1"].model
    assert (len(model.partition.blocks) > 1) == (len(segments) > 1)
    got, want = interaction_p(model), _dense_interaction_p(model)
    assert got < 1e-2 and np.log(got) == pytest.approx(np.log(want), rel=1e-6)
    null = Agent(ActionSpace.synthetic(slots=2, atoms_per_slot=4), segments,
                 AgentConfig(holdout_share=0.0, guardrails=ALWAYS))
    for r in range(2):
        d = null.decide(users(3000, r, segments), seed=r)
        null.learn(d, pd.DataFrame({"direct_open": rng.random(len(d)) < 0.05}))
    model = null.pairs.policies["pair:s0+s1"].model
    assert interaction_p(model) == pytest.approx(_dense_interaction_p(model), rel=1e-6)


def test_a_pair_decision_keeps_exact_propensities():
    agent = Agent(ActionSpace.synthetic(slots=2, atoms_per_slot=4), SEGS,
                  AgentConfig(holdout_share=0.0, guardrails=ALWAYS,
                              interactions=[["s0", "s1"]]))
    assert list(agent.pairs.active) == ["pair:s0+s1"]
    p, _, _ = pair_world(agent)
    play(agent, p, rounds=3)
    d = agent.decide(users(4000, 77), seed=77)
    assert (d["p_slot:s1"] == 1.0).all()
    combo = d.groupby(["ctx_segment", "atom_s0", "atom_s1"])
    shares = combo.size() / d.groupby("ctx_segment").size()
    assert np.allclose(combo["p_slot:s0"].first(), shares, atol=0.03)
    product = np.prod([d[f"p_{dim.name}"].to_numpy(float) for dim in agent.space.dimensions],
                      axis=0)
    assert np.allclose(d["propensity"], product, rtol=1e-5)


def test_pairs_survive_a_rebuild_and_new_atoms():
    agent = Agent(ActionSpace.synthetic(slots=2, atoms_per_slot=4), SEGS,
                  AgentConfig(holdout_share=0.0, guardrails=ALWAYS))
    p, _, _ = pair_world(agent)
    play(agent, p, rounds=5)
    n = agent.models["pair:s0+s1"].n
    grown = agent.add_atoms([{"id": 999, "kind": "s1", "text": "new cta", "tags": "",
                              "segment": None}])
    assert grown.models["pair:s0+s1"].n == n
    assert list(grown.pairs.active) == ["pair:s0+s1"]
    assert len(grown.pairs.policies["pair:s0+s1"].dim.options) == 4 * 5


def test_joint_options_combine_both_atoms_and_skip_combinations_of_two_segments():
    space = ActionSpace.synthetic(slots=2, atoms_per_slot=2)
    space = space.with_atoms([{"id": 901, "kind": "s0", "text": "only a", "tags": "",
                               "segment": "a"},
                              {"id": 902, "kind": "s1", "text": "only b", "tags": "",
                               "segment": "b"}])
    joint = joint_dimension(space.dimension("slot:s0"), space.dimension("slot:s1"))
    values = [o.value for o in joint.options]
    assert len(values) == 3 * 3 - 1 and (901, 902) not in values
    o = joint.options[values.index((901, 3))]
    assert o.features == ("atom:901", "atom:3", "pair:901&3") and o.segment == "a"


@pytest.mark.parametrize("setting, field", [
    ("sometimes", "interactions"), ([["s0"]], "interactions"), (5, "interactions")])
def test_invalid_interaction_settings_are_refused_naming_the_field(setting, field):
    with pytest.raises(ValidationError) as e:
        AgentConfig(interactions=setting)
    assert [p.field for p in e.value.problems] == [field]


def test_a_pair_of_unknown_slots_is_refused_naming_the_pair():
    with pytest.raises(ValidationError) as e:
        Agent(ActionSpace.synthetic(slots=2, atoms_per_slot=4), SEGS,
              AgentConfig(interactions=[["s0", "nope"]]))
    assert [p.field for p in e.value.problems] == ["interactions[0]"]


def test_the_configuration_round_trips_with_interactions():
    cfg = AgentConfig(interactions=[["s0", "s1"]])
    assert AgentConfig.from_dict(cfg.to_dict()) == cfg


# -- empirical Bayes ---------------------------------------------------------------------

def _offset_share(agreement: float) -> float:
    """Learnt prior variance of the segment offsets of atom identities over that of the
    global identities, after segments that agree (1) or disagree (0)."""
    space = ActionSpace.synthetic(slots=1, atoms_per_slot=6, seed=4)
    agent = Agent(space, SEGS, AgentConfig(holdout_share=0.0, guardrails=ALWAYS,
                                           interactions="off"))
    ids = [o.value for o in space.dimension("slot:s0").options]
    rng = np.random.default_rng(5)
    shared = rng.normal(0, 0.02, len(ids))
    own = rng.normal(0, 0.02, (2, len(ids)))
    eff = np.sqrt(agreement) * shared + np.sqrt(1 - agreement) * own
    lookup = {a: k for k, a in enumerate(ids)}

    def p(d):
        k = d["atom_s0"].map(lookup).to_numpy()
        return 0.06 + eff[d["ctx_segment"].to_numpy(), k]

    play(agent, p, rounds=10, n=4000)
    m = agent.policies["slot:s0"].model
    var = m.prior_var
    glob = np.mean([var[i] for i, f in enumerate(m.features) if f.startswith("atom:")
                    and "|" not in f])
    offs = np.mean([var[i] for i, f in enumerate(m.features) if f.startswith("atom:")
                    and "|segment:" in f])
    return offs / glob


def test_the_prior_learns_whether_segments_agree():
    assert _offset_share(0.0) > 1.4 * _offset_share(1.0)


def test_with_no_data_the_prior_is_the_budget():
    space = ActionSpace.synthetic(slots=1, atoms_per_slot=3)
    a, b = Agent(space, SEGS), Agent(space, SEGS)
    assert np.array_equal(a.models["slot:s0"].prior_var, b.models["slot:s0"].prior_var)
    pol = a.policies["slot:s0"]
    assert np.array_equal(pol.model.prior_var, pol._prior.budget)  # noqa: SLF001
