"""The regret benchmark: environments whose best action is exact, and the harness end to end."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from workbench import ValidationError
from workbench.bench import bench_regret
from workbench.sim.envs import (
    HELD_OUT,
    HOURS,
    NIGHT,
    P_MAX,
    P_MIN,
    SUITE,
    Environment,
    Interaction,
    NewAtoms,
    environment,
)
from workbench.sim.regret import (
    _MAKERS, EXTRA_PLAYERS, _OracleTSPlayer, action_space, format_regret, run,
)

ALL = SUITE + HELD_OUT


def _p(env: Environment, day: int, s: int, action: tuple[int, ...]) -> float:
    """Expected reward of one action, summed term by term (independent of the broadcasting
    in ``Environment.expected``)."""
    effects = env.effects(day)
    p = env.base[s] + sum(float(effects[d][s, a]) for d, a in enumerate(action))
    for i in env.interactions:
        if action[i.slots[0]] == i.first and action[i.slots[1]] == i.second:
            p += i.bonus * env.base[s]
    return min(max(p, P_MIN), P_MAX)


TINY = Environment(
    "tiny", "brute-force check", ("a", "b"), (0.5, 0.5), (0.05, 0.2), atoms=(2, 3, 2),
    channels=("push", "email"), interactions=(Interaction((1, 2), first=0, second=1, bonus=2.0),),
    new_atoms=(NewAtoms(3, 0, 2, 0.4),), drift=(2, 4), days=6, seed=5)


@pytest.mark.parametrize("day", [0, 2, 3, 5])
def test_tiny_environment_best_action_is_the_brute_force_maximum(day):
    best, action = TINY.best(day)
    k = TINY.available(day)
    sizes = (*k, len(HOURS), len(TINY.channels))
    for s in range(2):
        values = {a: _p(TINY, day, s, a) for a in itertools.product(*map(range, sizes))}
        top = max(values, key=values.get)
        assert tuple(action[s]) == top
        assert best[s] == pytest.approx(values[top], abs=1e-12)
        # every action the tensor holds is the term-by-term value; absent atoms are nan
        grid = TINY.expected(day)[s]
        assert np.isnan(grid[k[0]:]).all()
        assert all(grid[a] == pytest.approx(v, abs=1e-12) for a, v in values.items())


@pytest.mark.parametrize("env", ALL, ids=lambda e: e.name)
def test_each_environments_best_beats_random_actions_checked_term_by_term(env):
    rng = np.random.default_rng(0)
    for day in (0, env.days // 2, env.days - 1):
        best, action = env.best(day)
        k = env.available(day)
        sizes = (*k, len(HOURS), len(env.channels))
        for s in range(len(env.segments)):
            assert _p(env, day, s, tuple(action[s])) == pytest.approx(best[s], abs=1e-12)
            for _ in range(200):
                a = tuple(int(rng.integers(n)) for n in sizes)
                assert _p(env, day, s, a) <= best[s] + 1e-12
            assert action[s][3] not in range(0, 8) and action[s][3] < 22  # reachable hour


def test_new_atoms_are_unavailable_before_their_day_and_the_better_one_wins_after():
    env = environment("new-atoms")
    before = env.best(19)[1]
    after = env.best(20)[1]
    assert (before[:, 1] < 5).all()
    assert after[:, 1].tolist() == [5, 5, 5, 5]  # the first offer added on day 20 is best
    assert env.best(40)[1][:, 2].tolist() == [5, 5, 5, 5]


def test_interaction_makes_the_pair_best_where_neither_atom_is_best_alone():
    env = environment("common-interaction")
    _, action = env.best(0)
    i = env.interactions[0]
    assert [tuple(a[[1, 2]]) for a in action] == [(i.first, i.second)] * 2
    alone = env.effects(0)[1]
    assert (alone[:, i.first] == alone.min(axis=1)).all()


def test_drift_moves_the_best_content():
    env = environment("timing-drift")
    early, late = env.best(0)[1], env.best(env.days - 1)[1]
    assert (early[:, :3] != late[:, :3]).any()
    assert (early[:, 3] == late[:, 3]).all()  # timing does not drift


def test_held_out_environments_are_separate_and_flagged():
    assert len(HELD_OUT) >= 3 and len(SUITE) >= 4
    assert all(e.held_out and e.name.startswith("heldout-") for e in HELD_OUT)
    assert not any(e.held_out for e in SUITE)
    assert {e.seed for e in HELD_OUT}.isdisjoint({e.seed for e in SUITE})


def test_the_agents_action_space_has_every_option_of_the_environment():
    env = environment("heldout-three")
    space = action_space(env, env.available(0))
    assert [len(d.options) for d in space.dimensions] == [6, 5, 4, 168, 4, 1]


def test_invalid_environment_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as e:
        Environment("bad", "", ("a", "b"), (0.5, 0.6), (0.1, 0.1))
    assert [p.field for p in e.value.problems] == ["shares"]
    with pytest.raises(ValidationError) as e:
        bench_regret("nope", seeds=1, quick=True)
    assert e.value.problems[0].field == "env"


@pytest.fixture(scope="module")
def quick():
    return bench_regret("timing-drift", seeds=1, quick=True)


def test_quick_benchmark_runs_end_to_end_with_every_player(quick):
    assert set(quick) >= {"benchmark", "quick", "seeds", "players", "environments", "seconds",
                          "load_average", "blas_threads"}
    row = quick["environments"]["timing-drift"]
    assert (row["days"], row["batch"], row["decisions_per_seed"]) == (10, 300, 3000)
    assert set(row["players"]) == {"agent", "mabwiser", "beta_ts", "uniform", "oracle_ts"}
    for v in row["players"].values():
        assert set(v) == {"regret_per_1k", "mean", "sd", "reward_per_1k", "seconds_per_batch"}
        assert len(v["regret_per_1k"]) == 1 and v["regret_per_1k"][0] > 0
    assert row["agent_to_mabwiser"] == pytest.approx(
        row["players"]["agent"]["mean"] / row["players"]["mabwiser"]["mean"], abs=1e-3)
    assert row["oracle_ts_to_mabwiser"] == pytest.approx(
        row["players"]["oracle_ts"]["mean"] / row["players"]["mabwiser"]["mean"], abs=1e-3)
    assert "agent / mabwiser" in format_regret(quick)
    assert "oracle_ts / mabwiser" in format_regret(quick)


def test_agent_beats_uniform_in_a_quick_environment(quick):
    p = quick["environments"]["timing-drift"]["players"]
    assert p["agent"]["mean"] < p["uniform"]["mean"]


def test_a_players_figures_do_not_depend_on_which_players_run_beside_it():
    env = environment("neutral").scaled(days=4, batch=200)
    alone = {r.player: r.regret_per_1k for r in run(env, 3, ("uniform",))}
    together = {r.player: r.regret_per_1k for r in run(env, 3, ("oracle_ts", "uniform"))}
    assert alone["uniform"] == together["uniform"]
    assert together["oracle_ts"] != together["uniform"]


def test_the_oracle_reference_is_told_the_true_spread_and_never_sends_at_night():
    env = environment("neutral")
    player = _OracleTSPlayer(env, seed=0)
    effects = env.effects(0)
    assert player.sd[1][:, 0] == pytest.approx(effects[1].std(axis=1))
    day = [h for h in HOURS if h not in NIGHT]
    assert player.sd[3][:, 0] == pytest.approx(effects[3][:, day].std(axis=1))
    users = env.users(0, np.random.default_rng(0))
    seg = users["segment"].cat.codes.to_numpy(np.int64)
    actions = player.choose(users, seg, 0)
    assert not np.isin(actions[:, 3], NIGHT).any()
    assert set(np.unique(actions[:, 3])) <= set(day)


def test_the_all_hours_players_run_only_when_asked_and_may_send_at_night():
    assert not set(EXTRA_PLAYERS) & set(bench_regret("neutral", seeds=1, quick=True,
                                                     players=("uniform",))["players"])
    result = bench_regret("neutral", seeds=1, quick=True,
                          players=("agent_all_hours", "mabwiser", "oracle_ts_all_hours"))
    row = result["environments"]["neutral"]
    assert set(row["players"]) == {"agent_all_hours", "mabwiser", "oracle_ts_all_hours"}
    assert row["agent_all_hours_to_mabwiser"] == pytest.approx(
        row["players"]["agent_all_hours"]["mean"] / row["players"]["mabwiser"]["mean"], abs=1e-3)
    env = environment("neutral")
    users = env.users(0, np.random.default_rng(0))
    seg = users["segment"].cat.codes.to_numpy(np.int64)
    for name, masked in (("agent", True), ("agent_all_hours", False),
                         ("oracle_ts", True), ("oracle_ts_all_hours", False)):
        hours = _MAKERS[name](env, 1).choose(users, seg, 0)[:, 3]
        assert np.isin(hours, NIGHT).any() != masked, name
    oracle = _MAKERS["oracle_ts_all_hours"](env, 0)
    assert oracle.sd[3][:, 0] == pytest.approx(env.effects(0)[3].std(axis=1))


def test_oracle_reference_learns_the_best_options_of_a_stationary_environment():
    env = environment("neutral").scaled(days=40, batch=3000)
    result = {r.player: r.regret_per_1k for r in run(env, 0, ("oracle_ts", "uniform"))}
    assert result["oracle_ts"] < 0.4 * result["uniform"]


def test_each_dimension_of_the_oracle_learns_from_the_reward_without_the_others_effects():
    env = environment("new-atoms")
    player = _OracleTSPlayer(env, seed=0)
    player.grow(3)
    seg = np.array([0, 1, 1])
    actions = np.array([[0, 1, 2, 12, 0], [4, 3, 2, 9, 1], [4, 3, 2, 9, 1]])
    reward = np.array([1.0, 0.0, 1.0])
    player.learn(seg, actions, reward)
    e = env.effects(3)
    for d in range(5):
        others = [sum(e[j][s, a[j]] for j in range(5) if j != d) for s, a in zip(seg, actions)]
        assert player.y[d][0, actions[0, d]] == pytest.approx(reward[0] - others[0])
        assert player.y[d][1, actions[1, d]] == pytest.approx(reward[1:].sum() - others[1] - others[2])
        assert player.n[d][1, actions[1, d]] == 2


def test_the_sequential_reference_learns_each_user_before_choosing_for_the_next():
    env = environment("neutral")
    player = _MAKERS["oracle_ts_sequential"](env, 0)
    users = env.users(0, np.random.default_rng(0)).iloc[:400]
    seg = users["segment"].cat.codes.to_numpy(np.int64)
    actions = player.choose(users, seg, 0)
    for d in range(5):  # every user is learnt in choose, once per dimension
        assert player.n[d].sum() == len(users)
        assert np.array_equal(player.n[d][seg[0]], np.bincount(
            actions[seg == seg[0], d], minlength=env.shape[d]))
    assert not np.isin(actions[:, 3], NIGHT).any()
    before = [n.copy() for n in player.n]
    player.learn(seg, actions, np.ones(len(seg)))  # the batch's outcomes add nothing
    assert all(np.array_equal(a, b) for a, b in zip(before, player.n))
    # within the first day, later users get better actions than a batch learner's, which
    # has seen nothing yet
    users = env.users(0, np.random.default_rng(1))
    seg = users["segment"].cat.codes.to_numpy(np.int64)
    expected = env.expected(0)
    late = slice(len(users) - 2000, None)
    got = {}
    for name in ("oracle_ts_sequential", "oracle_ts"):
        a = _MAKERS[name](env, 2).choose(users, seg, 0)
        got[name] = expected[(seg[late], *a[late].T)].mean()
    assert got["oracle_ts_sequential"] > got["oracle_ts"] * 1.1


def test_the_sequential_reference_runs_only_when_asked_and_beats_uniform():
    assert "oracle_ts_sequential" not in bench_regret(
        "neutral", seeds=1, quick=True, players=("uniform",))["environments"]["neutral"]["players"]
    env = environment("neutral").scaled(days=40, batch=3000)
    result = {r.player: r.regret_per_1k for r in run(env, 0, ("oracle_ts_sequential", "uniform"))}
    assert result["oracle_ts_sequential"] < 0.4 * result["uniform"]
