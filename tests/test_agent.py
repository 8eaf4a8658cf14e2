"""The decision agent: conjugate updates, Thompson Sampling, convergence, cold start, guardrails,
propensities, determinism."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from workbench.agent.actions import ActionSpace
from workbench.agent.policy import GUARDRAILS, Agent, AgentConfig, Guardrails, MustSend
from workbench import ValidationError
from workbench.agent.posterior import GaussianPosterior
from workbench.agent.users import prepare_users, synthetic_users

SEGS = ["a", "b", "c"]
BEST = {"a": 0, "b": 3, "c": 5}  # index of the best atom of slot s0 per segment


def users(n, seed=0, **cols):
    u = synthetic_users(n, SEGS, seed)
    for k, v in cols.items():
        u[k] = v
    return u


def flagged(decisions, name):
    return (decisions["guardrails"].to_numpy() & GUARDRAILS[name]) > 0


# -- posterior ----------------------------------------------------------------------------

def test_posterior_update_matches_the_conjugate_formula():
    post = GaussianPosterior.prior(["w"], prior_var=2.0, noise_var=0.5)
    y = np.array([1.0, 0.0, 1.0, 1.0])
    post.update(np.ones((4, 1)), y)
    precision = 1 / 2.0 + 4 / 0.5
    assert post.precision[0, 0] == pytest.approx(precision)
    assert post.mean[0] == pytest.approx((y.sum() / 0.5) / precision)
    assert post.covariance[0, 0] == pytest.approx(1 / precision)


def test_bayesian_linear_regression_matches_the_closed_form():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([0.5, -1.0, 2.0]) + rng.normal(scale=0.3, size=50)
    post = GaussianPosterior.prior(["a", "b", "c"], prior_var=[1.0, 2.0, 4.0], noise_var=0.09)
    post.update(X, y)
    A = np.diag([1.0, 0.5, 0.25]) + X.T @ X / 0.09
    assert np.allclose(post.mean, np.linalg.solve(A, X.T @ y / 0.09))
    assert np.allclose(post.covariance, np.linalg.inv(A))


def test_variances_are_the_covariance_diagonal_computed_with_or_without_it():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 6))
    post = GaussianPosterior.prior(list("abcdef"), prior_var=np.linspace(0.5, 3.0, 6),
                                   noise_var=0.2)
    post.update(X, X @ rng.normal(size=6) + rng.normal(size=40))
    expected = np.diag(np.linalg.inv(post.precision))
    assert np.allclose(post.variances, expected)  # from L^-1, no covariance formed
    post._changed()  # noqa: SLF001
    assert np.allclose(post.covariance, np.linalg.inv(post.precision))
    assert np.allclose(post.variances, expected)  # from the covariance in the cache
    assert np.allclose(post.covariance, post.covariance.T)


def test_aggregated_cells_equal_row_by_row_updates_and_late_rewards_add_only_to_b():
    rows = GaussianPosterior.prior(["x", "y"], 1.0)
    cells = GaussianPosterior.prior(["x", "y"], 1.0)
    X = np.array([[1.0, 0.0]] * 3 + [[1.0, 1.0]] * 2)
    r = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    rows.update(X, r)
    cells.update(np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([2.0, 1.0]), counts=[3, 2])
    assert np.allclose(rows.precision, cells.precision) and np.allclose(rows.b, cells.b)
    before = cells.precision.copy()
    cells.update(np.array([[1.0, 1.0]]), np.array([1.0]), add_precision=False)
    assert np.array_equal(cells.precision, before)
    assert cells.b[1] == pytest.approx(rows.b[1] + 1 / rows.noise_var)


def test_posterior_survives_a_round_trip_and_grows_new_features_at_their_prior():
    post = GaussianPosterior.prior(["a"], 1.0)
    post.update(np.ones((2, 1)), np.array([1.0, 1.0]))
    back = GaussianPosterior.from_bytes(post.to_bytes())
    assert back.features == ["a"] and np.allclose(back.precision, post.precision) and back.n == 2
    grown = back.with_features(["a", "b"], [1.0, 3.0])
    assert grown.features == ["a", "b"]
    assert grown.covariance[1, 1] == pytest.approx(3.0)
    assert grown.mean[0] == pytest.approx(post.mean[0])


def test_probability_of_being_best_matches_the_normal_formula():
    # Two options with independent identity weights: P(1 best) = Phi((m1 - m0) / sqrt(v0 + v1)).
    space = ActionSpace.synthetic(slots=1, atoms_per_slot=2)
    agent = Agent(space, SEGS, AgentConfig(draws=20000))
    pol = agent.policies["slot:s0"]
    m, idx = pol.model, pol.model.index()
    m.learn_noise, m.noise_var = False, 1.0
    m.prior_var[:] = 1e-12 / m.scale  # everything else pinned at 0
    a0, a1 = (f"atom:{o.value}" for o in pol.dim.options)
    m.prior_var[[idx[a0], idx[a1]]] = 1e12 / m.scale  # flat: the data alone
    m.gram[idx[a0], idx[a0]] = 1 / 0.04
    m.gram[idx[a1], idx[a1]] = 1 / 0.09
    m.xy[idx[a1]] = 0.1 / 0.09
    m._changed()
    P, _ = pol.prob_best([0], 20000, np.random.default_rng(0))
    assert P[0, 1] == pytest.approx(norm.cdf(0.1 / np.sqrt(0.13)), abs=0.01)
    assert P[0].sum() == pytest.approx(1.0)


def test_the_noise_variance_is_learnt_from_rare_binary_rewards():
    agent = Agent(ActionSpace.synthetic(slots=1, atoms_per_slot=4), SEGS)
    rng = np.random.default_rng(0)
    for r in range(4):
        d = agent.decide(users(5000, seed=r), seed=r)
        agent.learn(d, pd.DataFrame({"direct_open": rng.random(len(d)) < 0.05}))
    # A 5% Bernoulli reward has variance 0.0475, not the 0.25 it starts from.
    assert agent.models["slot:s0"].noise_var == pytest.approx(0.0475, abs=0.006)


def test_posteriors_are_stored_without_pickles_and_earlier_blobs_still_load():
    import io
    import pickle

    post = GaussianPosterior.prior(["a", "b|segment:x"], 1.0, noise_var=0.5)
    post.update(np.array([[1.0, 1.0]]), np.array([1.0]), counts=[3])
    back = GaussianPosterior.from_bytes(post.to_bytes())
    assert back.features == post.features and np.allclose(back.precision, post.precision)
    # The earlier format: the posterior's precision and b, features as a pickled object array.
    old = io.BytesIO()
    np.savez(old, features=np.array(post.features, dtype=object), precision=post.precision,
             b=post.b, prior_var=post.prior_var, noise_var=post.noise_var, n=post.n)
    legacy = GaussianPosterior.from_bytes(old.getvalue())
    assert legacy.features == post.features
    assert np.allclose(legacy.mean, post.mean) and np.allclose(legacy.covariance,
                                                               post.covariance)

    class Boom:
        def __reduce__(self):
            return (print, ("ran code",))

    evil = io.BytesIO()
    np.savez(evil, features=np.array([Boom()], dtype=object), precision=np.eye(1), b=[0.0],
             prior_var=[1.0], noise_var=0.25, n=0)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        GaussianPosterior.from_bytes(evil.getvalue())


# -- learning -----------------------------------------------------------------------------

def simulate(agent, rounds, n=4000, seed=0, slot="slot:s0"):
    """Bernoulli opens: 30% for the segment's best atom of ``slot``, 8% otherwise."""
    rng = np.random.default_rng(seed)
    dim = agent.space.dimension(slot)
    best_ids = {s: dim.options[k].value for s, k in BEST.items()}
    for r in range(rounds):
        d = agent.decide(users(n, seed=seed * 100 + r), seed=seed * 100 + r)
        seg = np.array(SEGS)[d["ctx_segment"]]
        is_best = d[slot.replace("slot:", "atom_")].to_numpy() == pd.Series(seg).map(best_ids)
        opened = rng.random(len(d)) < np.where(is_best, 0.30, 0.08)
        agent.learn(d, pd.DataFrame({"direct_open": opened & d["send"].to_numpy()}))
    return d


def best_share(d, agent, slot="slot:s0"):
    dim = agent.space.dimension(slot)
    sent = d[d["send"]]
    seg = np.array(SEGS)[sent["ctx_segment"]]
    return {s: float((sent[seg == s][slot.replace("slot:", "atom_")]
                      == dim.options[BEST[s]].value).mean()) for s in SEGS}


def test_agent_converges_on_the_best_atom_of_each_segment():
    agent = Agent(ActionSpace.synthetic(), SEGS, AgentConfig())
    d = simulate(agent, rounds=12)
    shares = best_share(d, agent)
    assert min(shares.values()) > 0.90, shares


def bernoulli_rounds(agent, rounds, p_of_atom, n=2000, seed=0, slot="s0"):
    """Opens at ``p_of_atom[atom id]`` (5% when absent); returns each round's atom shares."""
    rng = np.random.default_rng(seed)
    shares = []
    for r in range(rounds):
        d = agent.decide(users(n, seed=seed * 100 + r), seed=seed * 100 + r)
        atom = d[f"atom_{slot}"].to_numpy()
        p = pd.Series(atom).map(p_of_atom).fillna(0.05).to_numpy()
        agent.learn(d, pd.DataFrame({"direct_open": (rng.random(len(d)) < p) & d["send"]}))
        sent = d[d["send"]]
        shares.append(sent[f"atom_{slot}"].value_counts(normalize=True).to_dict())
    return shares


def established(seed=0):
    space = ActionSpace.synthetic(slots=1, atoms_per_slot=4)
    ids = [o.value for o in space.dimension("slot:s0").options]
    p = {ids[0]: 0.07}  # the best of the established atoms
    agent = Agent(space, SEGS)
    bernoulli_rounds(agent, 8, p, n=4000, seed=seed)
    return agent, p


NEW_ATOM = {"id": 999, "kind": "s0", "text": "brand new", "offer_type": "cashback",
            "tone": "caring", "product_category": "retail", "tags": "", "segment": None}


def test_a_clearly_better_new_atom_passes_half_of_its_slot_within_a_few_thousand_decisions():
    agent, p = established()
    agent = agent.add_atoms([NEW_ATOM])
    shares = bernoulli_rounds(agent, 4, {**p, 999: 0.12}, n=1000, seed=1)
    assert [s.get(999, 0) > 0.5 for s in shares][-2:] == [True, True], shares


def test_a_worse_new_atom_gets_little_traffic():
    agent, p = established()
    agent = agent.add_atoms([NEW_ATOM])
    shares = [s.get(999, 0) for s in bernoulli_rounds(agent, 4, {**p, 999: 0.02}, n=1000,
                                                       seed=1)]
    # Its first 1,000 decisions try it (under the 46% the issue saw), then it fades out.
    assert shares[0] < 0.35 and max(shares[1:]) < 0.05 and np.mean(shares) < 0.12, shares


def test_retired_atoms_are_never_served_and_what_they_taught_stays():
    agent, _ = established()
    gone = agent.space.dimension("slot:s0").options[1].value
    agent2 = agent.retire_atoms([gone])
    d = agent2.decide(users(3000, seed=5))
    assert not (d["atom_s0"] == gone).any()
    assert f"atom:{gone}" in agent2.models["slot:s0"].features


def test_adding_a_tag_never_resets_what_was_learnt():
    space = ActionSpace.synthetic(slots=1, atoms_per_slot=4)
    first, second = (space.atoms[o.value] for o in space.dimension("slot:s0").options[:2])
    space = space.with_atoms([{**first, "tags": "summer"}])  # a tag carried by one atom
    agent = Agent(space, SEGS)
    bernoulli_rounds(agent, 6, {first["id"]: 0.08}, n=4000)
    before = agent.beliefs("slot:s0", {"segment": 0}).set_index("option")
    agent2 = agent.add_atoms([{**second, "tags": "summer"}])  # ...now carried by two
    after = agent2.beliefs("slot:s0", {"segment": 0}).set_index("option")
    row = first["id"]
    # The same up to the tags' share of the prior budget (the issue saw sd 0.0085 -> 1.12).
    assert after.loc[row, "mean"] == pytest.approx(before.loc[row, "mean"], rel=1e-3)
    assert after.loc[row, "sd"] == pytest.approx(before.loc[row, "sd"], rel=1e-3)
    assert before.loc[row, "sd"] < 0.01


def test_decisions_are_deterministic_under_a_seed():
    agent = Agent(ActionSpace.synthetic(), SEGS)
    a = agent.decide(users(3000), seed=5)
    b = agent.decide(users(3000), seed=5)
    c = agent.decide(users(3000), seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a["choice_timing"].equals(c["choice_timing"])


def test_every_batch_gets_fresh_randomness_and_records_the_seed_that_replays_it():
    agent = Agent(ActionSpace.synthetic(), SEGS)
    u = users(3000)
    a, b = agent.decide(u), agent.decide(u)
    assert a.attrs["seed"] != b.attrs["seed"]
    assert not a["choice_timing"].equals(b["choice_timing"])
    pd.testing.assert_frame_equal(agent.decide(u, seed=a.attrs["seed"]), a)


def test_context_changes_the_decision():
    agent = Agent(ActionSpace.synthetic(), SEGS)
    d = simulate(agent, rounds=10)
    seg = np.array(SEGS)[d[d["send"]]["ctx_segment"]]
    top = pd.Series(d[d["send"]]["atom_s0"].to_numpy()).groupby(seg).agg(
        lambda s: s.mode().iloc[0])
    assert top["a"] != top["b"] != top["c"]


def test_the_send_hour_conditions_on_the_segment():
    agent = Agent(ActionSpace.synthetic(slots=1, atoms_per_slot=2), SEGS)
    best = {0: 9, 1: 20, 2: 14}
    rng = np.random.default_rng(0)
    for r in range(10):
        d = agent.decide(users(5000, seed=r), seed=r)
        near = np.abs(d["hour"].to_numpy() - d["ctx_segment"].map(best).to_numpy()) <= 1
        opened = (rng.random(len(d)) < np.where(near, 0.12, 0.03)) & d["send"]
        agent.learn(d, pd.DataFrame({"direct_open": opened}))
    sent = d[d["send"]]
    top = sent.groupby("ctx_segment")["hour"].agg(lambda h: h.mode().iloc[0]).to_dict()
    assert {s: abs(h - best[s]) <= 1 for s, h in top.items()} == {0: True, 1: True, 2: True}


def test_the_agent_beats_uniform_choice_on_a_small_environment():
    space = ActionSpace.synthetic(slots=2, atoms_per_slot=4)
    agent = Agent(space, SEGS, AgentConfig(holdout_share=0.0, guardrails=Guardrails(
        always_send=True, frequency_cap_7d=100, quiet_start=0, quiet_end=0)))
    rng = np.random.default_rng(3)
    eff = {d: rng.normal(0, 0.03, (3, 24 if d == "hour" else 4)) for d in ("s0", "s1", "hour")}

    def p(d):
        seg = d["ctx_segment"].to_numpy()
        return 0.06 + eff["s0"][seg, d["choice_slot:s0"]] + eff["s1"][seg, d["choice_slot:s1"]] \
            + eff["hour"][seg, d["hour"]]

    best = 0.06 + sum(e.max(axis=1) for e in eff.values())
    mean = 0.06 + sum(e.mean(axis=1) for e in eff.values())
    regret = uniform = 0.0
    for r in range(12):
        d = agent.decide(users(3000, seed=r, consent_push=True), seed=r)
        seg = d["ctx_segment"].to_numpy()
        pr = np.clip(p(d), 0.001, 1)
        regret += (best[seg] - pr).sum()
        uniform += (best[seg] - mean[seg]).sum()
        agent.learn(d, pd.DataFrame({"direct_open": rng.random(len(d)) < pr}))
    assert regret < 0.5 * uniform, (regret, uniform)


# -- propensities -------------------------------------------------------------------------

def test_propensities_are_the_probabilities_of_the_choices_and_sum_to_one():
    agent = Agent(ActionSpace.synthetic(), SEGS)
    simulate(agent, rounds=3)
    u = users(20000, seed=9, segment="a", days_inactive=40, past_engagement=3, sends_7d=0,
              habitual_hour=19, platform="ios")
    d = agent.decide(u, seed=9)
    d = d[d["arm"] == "agent"]
    p = d.groupby("choice_slot:s1")["p_slot:s1"].agg(["first", "nunique", "size"])
    assert (p["nunique"] == 1).all()  # one context: one probability per option
    assert p["first"].sum() == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(p["size"] / p["size"].sum(), p["first"], atol=0.02)
    t = d.groupby("choice_timing")["p_timing"].first()
    assert t.sum() <= 1 + 1e-6 and t.sum() > 0.95
    sent = d[d["send"]]
    product = np.prod([sent[f"p_{dim.name}"].to_numpy(float) for dim in agent.space.dimensions],
                      axis=0)
    assert np.allclose(sent["propensity"], product, rtol=1e-5)


# -- guardrails ---------------------------------------------------------------------------

def test_holdout_users_are_never_touched():
    agent = Agent(ActionSpace.synthetic(), SEGS)
    arm = np.where(np.arange(2000) % 4 == 0, "holdout", "agent")
    d = agent.decide(users(2000, arm=arm), seed=1)
    hold = d["arm"] == "holdout"
    assert hold.sum() == 500
    assert not d.loc[hold, "send"].any() and flagged(d[hold], "holdout").all()
    assert d.loc[hold, "propensity"].isna().all()


def test_holdout_is_assigned_stably_at_the_configured_share():
    agent = Agent(ActionSpace.synthetic(), SEGS, AgentConfig(holdout_share=0.1))
    a = agent.decide(users(20000), seed=1)
    b = agent.decide(users(20000).iloc[::-1], seed=2)
    assert abs((a["arm"] == "holdout").mean() - 0.1) < 0.01
    merged = a[["user_id", "arm"]].merge(b[["user_id", "arm"]], on="user_id")
    assert (merged["arm_x"] == merged["arm_y"]).all()


def test_frequency_cap_skips_users_at_the_cap():
    agent = Agent(ActionSpace.synthetic(), SEGS, AgentConfig(
        guardrails=Guardrails(frequency_cap_7d=2)))
    d = agent.decide(users(3000, sends_7d=np.arange(3000) % 4), seed=1)
    at_cap = d["user_id"].astype(int) % 4 >= 2
    assert not d.loc[at_cap, "send"].any()
    assert d.loc[~at_cap & (d["arm"] == "agent"), "send"].any()
    assert flagged(d[at_cap & (d["arm"] == "agent")], "frequency_cap").any()


def test_quiet_hours_are_masked_in_the_policy_not_shifted_after_the_choice():
    agent = Agent(ActionSpace.synthetic(), SEGS, AgentConfig(
        guardrails=Guardrails(quiet_start=21, quiet_end=9)))
    d = agent.decide(users(5000), seed=1)
    sent = d[d["send"]]
    assert sent["hour"].between(9, 20).all()
    assert not flagged(d, "quiet_hours").any()
    assert sent["hour"].nunique() == 12  # spread over the allowed hours, not piled on 09:00
    quiet = [o.value for o in agent.space.dimension("timing").options
             if agent.config.guardrails.quiet(o.value % 24)]
    beliefs = agent.beliefs("timing", {"segment": 0}).set_index("option")
    assert (beliefs.loc[quiet, "p_best"] == 0).all() and not beliefs.loc[quiet, "allowed"].any()


def test_always_send_and_no_holdout_are_configuration():
    agent = Agent(ActionSpace.synthetic(), SEGS, AgentConfig(
        holdout_share=0.0, guardrails=Guardrails(always_send=True, frequency_cap_7d=100)))
    d = agent.decide(users(3000, consent_push=True))
    assert (d["arm"] == "agent").all() and d["send"].all()
    assert (d["p_send"] == 1).all()


def test_channel_consent_is_respected():
    agent = Agent(ActionSpace.synthetic(), SEGS)
    u = users(4000)
    u["consent_push"] = np.arange(4000) % 2 == 0
    u["consent_email"] = False
    u["consent_sms"] = False
    u["consent_in_app"] = np.arange(4000) % 3 == 0
    d = agent.decide(u, seed=1)
    sent = d[d["send"]]
    ok = ((sent["channel"].astype(str) == "push") & (sent["user_id"].astype(int) % 2 == 0)) | (
        (sent["channel"].astype(str) == "in_app") & (sent["user_id"].astype(int) % 3 == 0))
    assert len(sent) and ok.all()
    nobody = (d["user_id"].astype(int) % 2 == 1) & (d["user_id"].astype(int) % 3 != 0) & (
        d["arm"] == "agent")
    assert not d.loc[nobody, "send"].any() and flagged(d[nobody], "no_consent").all()


def test_minimum_exploration_keeps_every_option_alive():
    agent = Agent(ActionSpace.synthetic(), SEGS, AgentConfig(
        guardrails=Guardrails(min_exploration=0.16)))
    simulate(agent, rounds=6)
    d = agent.decide(users(20000, seed=3), seed=3)
    sent = d[(d["arm"] == "agent")]
    floor = 0.16 / 8
    assert (sent["p_slot:s0"] >= floor - 1e-6).all()
    assert sent["atom_s0"].nunique() == 8
    assert flagged(sent, "exploration").any()


def test_there_is_no_exploration_floor_by_default():
    agent = Agent(ActionSpace.synthetic(), SEGS)
    simulate(agent, rounds=6)
    d = agent.decide(users(20000, seed=3), seed=3)
    mine = d[d["arm"] == "agent"]
    assert Guardrails().min_exploration == 0
    assert mine["p_slot:s0"].max() > 0.95  # Thompson Sampling alone: almost sure...
    assert agent.beliefs("slot:s0", {"segment": 0})["p_best"].min() < 0.005  # ...rare others
    assert not flagged(d, "exploration").any()


def test_partial_windows_add_up_to_learning_the_whole_window():
    whole, partial = (Agent(ActionSpace.synthetic(slots=1), SEGS) for _ in range(2))
    d = whole.decide(users(3000), seed=2)
    rng = np.random.default_rng(2)
    early = (rng.random(len(d)) < 0.04) & d["send"].to_numpy()
    later = (rng.random(len(d)) < 0.03) & d["send"].to_numpy()
    whole.learn(d, pd.DataFrame({"direct_open": early.astype(float) + later}))
    partial.learn(d, pd.DataFrame({"direct_open": early}), exposure=0.6)
    mid = partial.models["slot:s0"].gram.copy()
    partial.learn(d, pd.DataFrame({"direct_open": later}), late=True, exposure=1.0, counted=0.6)
    w, p = whole.models["slot:s0"], partial.models["slot:s0"]
    assert np.allclose(mid, 0.6 * w.gram)  # seen for 60% of the window: 60% of the weight
    assert np.allclose(p.gram, w.gram) and np.allclose(p.xy, w.xy)
    with pytest.raises(ValidationError, match="exposure"):
        partial.learn(d, pd.DataFrame({"direct_open": early}), exposure=0.0)


def test_discounting_lets_old_data_count_less():
    agent = Agent(ActionSpace.synthetic(slots=1), SEGS, AgentConfig(discount=0.5))
    d = agent.decide(users(2000), seed=1)
    agent.learn(d, pd.DataFrame({"direct_open": d["send"]}))
    once = agent.models["slot:s0"].gram.copy()
    d2 = agent.decide(users(2000, seed=2), seed=2)  # the same batch again would be refused
    agent.learn(d2, pd.DataFrame({"direct_open": d2["send"]}))
    alone = Agent(ActionSpace.synthetic(slots=1), SEGS, AgentConfig(discount=0.5))
    alone.learn(d2, pd.DataFrame({"direct_open": d2["send"]}))
    assert np.allclose(agent.models["slot:s0"].gram,
                       0.5 * once + alone.models["slot:s0"].gram)


def test_no_atom_exceeds_the_maximum_traffic_share():
    agent = Agent(ActionSpace.synthetic(), SEGS, AgentConfig(
        guardrails=Guardrails(max_atom_share=0.3)))
    simulate(agent, rounds=6)
    d = agent.decide(users(30000, seed=4), seed=4)
    shares = d[d["arm"] == "agent"]["atom_s0"].value_counts(normalize=True)
    assert shares.max() < 0.3 + 0.015
    assert flagged(d, "traffic_cap").any()


def test_must_send_overrides_the_policy_and_the_frequency_cap():
    space = ActionSpace.synthetic()
    atoms = {f"s{i}": space.dimension(f"slot:s{i}").options[2].value for i in range(6)}
    rule = MustSend(atoms=atoms, channel="push", segment="b", note="launch")
    agent = Agent(space, SEGS, AgentConfig(guardrails=Guardrails(must_send=(rule,))))
    d = agent.decide(users(3000, consent_push=True, sends_7d=5), seed=1)
    forced = (np.array(SEGS)[d["ctx_segment"]] == "b") & (d["arm"] == "agent")
    hit = d[forced]
    assert hit["send"].all() and flagged(hit, "must_send").all()
    assert (hit["channel"].astype(str) == "push").all()
    assert (hit["atom_s0"] == atoms["s0"]).all() and (hit["p_slot:s0"] == 1).all()
    assert not d[~forced]["send"].any()  # everyone else is at the frequency cap


def test_invalid_configuration_is_rejected_at_the_edge():
    with pytest.raises(ValidationError, match="min_exploration"):
        Guardrails(min_exploration=1.5)
    with pytest.raises(ValidationError, match="quiet_start"):
        Guardrails(quiet_start=25)
    with pytest.raises(ValidationError, match="draws"):
        AgentConfig(draws=3)
    space = ActionSpace.synthetic()
    with pytest.raises(ValidationError, match="needs an active 's0' atom"):
        Agent(space, SEGS, AgentConfig(guardrails=Guardrails(
            must_send=(MustSend(atoms={}, channel="push"),))))
    with pytest.raises(ValidationError, match="contexts.timing"):
        AgentConfig(contexts={"timing": ("segment", "shoe_size")})
    with pytest.raises(ValidationError, match="contexts.weather"):
        AgentConfig(contexts={"weather": ("segment",)})
    with pytest.raises(ValidationError, match="discount"):
        AgentConfig(discount=0)
    custom = AgentConfig(contexts={"slot": ("segment", "inactivity")}, discount=0.9)
    assert custom.contexts["timing"] == ("segment",)  # the default kept
    assert AgentConfig.from_dict(custom.to_dict()) == custom
    assert AgentConfig.from_dict(AgentConfig().to_dict()) == AgentConfig()


def test_bad_users_are_rejected_naming_row_and_column():
    u = users(5)
    u["segment"] = u["segment"].astype(str)
    u.loc[2, "segment"] = "zzz"
    u.loc[3, "habitual_hour"] = 30
    with pytest.raises(ValidationError) as e:
        prepare_users(u, SEGS)
    assert [str(p) for p in e.value.problems] == [
        "row 3 field 'segment': unknown segment 'zzz'",
        "row 4 field 'habitual_hour': '30' is not a number from 0 to 23"]
    with pytest.raises(ValidationError, match="required column 'segment'"):
        prepare_users(pd.DataFrame({"user_id": [1]}), SEGS)


def test_users_with_infinite_or_fractional_counts_are_refused_not_a_traceback():
    """1e400 (read as inf) reached the integer cast and crashed with a traceback; 1.5 days
    inactive was cut to 1 silently."""
    u = users(3)
    u["days_inactive"] = u["days_inactive"].astype(float)
    u["sends_7d"] = u["sends_7d"].astype(float)
    u.loc[0, "days_inactive"] = float("inf")
    u.loc[2, "sends_7d"] = 1.5
    with pytest.raises(ValidationError) as e:
        prepare_users(u, SEGS)
    assert [str(p) for p in e.value.problems] == [
        "row 1 field 'days_inactive': 'inf' is not a number from 0 to 100000",
        "row 3 field 'sends_7d': '1.5' is not a whole number"]


def test_an_empty_consent_cell_is_refused_and_an_empty_arm_is_assigned_as_if_absent():
    """An empty consent_email cell became consent (the column's default, True), so a user who
    never answered was e-mailed; an empty arm became 'agent', moving holdout users into the
    treated arm. Consent must be written; a blank arm gets the stable hash like a missing
    column."""
    u = users(4)
    u["consent_email"] = pd.Series([True, None, False, True], dtype=object)
    with pytest.raises(ValidationError) as e:
        prepare_users(u, SEGS)
    assert [str(p) for p in e.value.problems] == [
        "row 2 field 'consent_email': is empty: write true or false"]
    u = users(400)
    hashed = prepare_users(u.drop(columns=[c for c in ("arm",) if c in u.columns]), SEGS,
                           0.5)["arm"].astype(str).to_numpy()
    u["arm"] = pd.Series([None] * 400, dtype=object)
    u.loc[0, "arm"] = "holdout"
    got = prepare_users(u, SEGS, 0.5)["arm"].astype(str).to_numpy()
    assert got[0] == "holdout" and (got[1:] == hashed[1:]).all()
    assert set(got[1:]) == {"agent", "holdout"}


def test_user_ids_are_checked_as_the_log_writes_them():
    """1 and "1" were decided as two users and logged as one ("1"); an id of spaces was
    accepted though None was "is empty"."""
    with pytest.raises(ValidationError) as e:
        prepare_users(pd.DataFrame({"user_id": [1, "1", "   ", "u"], "segment": SEGS[0]}), SEGS)
    assert [str(p) for p in e.value.problems] == [
        "row 2 field 'user_id': user '1' appears twice", "row 3 field 'user_id': is empty"]


def test_a_space_of_millions_of_actions_is_never_enumerated():
    space = ActionSpace.synthetic(slots=6, atoms_per_slot=8)
    assert space.size == 8 ** 6 * 168 * 4 * 2
    agent = Agent(space, SEGS)
    assert sum(len(p.model.features) for p in agent.policies.values()) < 5000


def test_incremental_rewards_without_a_holdout_are_refused_at_configuration():
    from workbench import ValidationError
    from workbench.agent import AgentConfig

    with pytest.raises(ValidationError) as e:
        AgentConfig(incremental=True, holdout_share=0)
    assert [(p.field, p.message) for p in e.value.problems] == [
        ("holdout_share", "incremental rewards are measured against holdout users: set "
                          "holdout_share above 0")]
    assert AgentConfig(incremental=True, holdout_share=0.1).incremental
