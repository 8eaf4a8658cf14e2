"""A randomised trial in the simulated world: the agent against business as usual.

Users are split at random, stably per user, into the agent's arm (90% by default) and a
business-as-usual holdout (BAU: one fixed push message, at a fixed hour, on a fixed weekday,
every week). The timeline follows the longitudinal study: active management first (a scripted
curator adds atoms from the reserve pool every two weeks and retires the weakest), then passive
management (the library is frozen, the agent keeps learning). The run works in a sandbox, its
own copy of the programme (:mod:`~workbench.sim.sandbox`): its curation, phase switches and the
simulated agent's state never touch the real library or mode, and only one run goes at a time.

The run is crash-safe. At every week boundary (and in between as often as costs about a tenth of
the time) the whole state, the agent's posteriors included, is written to the run's folder
atomically (temporary file, fsync, rename);
every random number is drawn from a generator seeded by (seed, day), and daily aggregates are
upserted by day. A run resumed after a crash re-simulates the days since its last checkpoint and
ends exactly where an uninterrupted run ends, with no day lost or counted twice.

What is kept (for the pages and the lift analysis): daily aggregates per arm (realised and
expected), weekly per-user moments per arm (for weekly lift with intervals), per-user outcomes
per phase with pre-period covariates (``users.npz``), and for runs up to
``log_decisions_max_users`` the weekly decision logs (``decisions/week_NNN.npz``).

The pieces, one home each: :mod:`~workbench.sim.config` (what a run is asked to do),
:mod:`~workbench.sim.checkpoint` (its state, saved atomically), :mod:`~workbench.sim.day` (a
simulated day and the agent's week, arrays only), :mod:`~workbench.sim.curator` (the scripted
marketer), :mod:`~workbench.sim.runs` (the register and results) and
:mod:`~workbench.sim.runner` (process control). :class:`Trial` here runs the timeline: set-up,
weeks, days, management modes, checkpoints, and what the store and the pages get.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from store import Store
from store import runs as run_store
from workbench.agent.actions import ActionSpace
from workbench.agent.policy import Agent, AgentConfig
from workbench.agent.posterior import GaussianPosterior
from workbench.agent.reward import RewardWeights
from workbench.agent.state import record_batch, save_models, snapshot_rows
from workbench.library.assembly import Template
from workbench.sim import day
from workbench.sim.checkpoint import NO_DAY, State, atomic_savez, remove_checkpoints
from workbench.sim.config import (
    CHECKPOINT_SECONDS, PHASES, PRESETS, SIM_ACTOR, TrialConfig, TrialError,
    preset,
)
from workbench.sim.curator import curate
from workbench.sim.day import World
from workbench.sim.runner import (
    cancel, claim, pause_requested, progress, request_pause, set_run,
    start_background, start_new,
)
from workbench.sim.sandbox import open_sandbox, run_library
from workbench.sim.runs import (
    create_run, daily, headline_lift, latest_run, run_row, runs_dir, user_outcomes, weekly,
)
from workbench.sim.world import METRICS, content_signature

__all__ = [
    "TrialConfig", "PRESETS", "preset", "TrialError", "runs_dir", "create_run", "run_row",
    "latest_run", "request_pause", "cancel", "Trial", "start_background", "start_new", "progress",
    "run_trial", "daily", "weekly", "user_outcomes", "headline_lift", "run_library", "NO_DAY",
]


class Trial:
    """One run: population, world, agent and BAU, day by day."""

    def __init__(self, store: Store, run_id: int):
        self.store = store
        self.run_id = run_id
        row = run_row(store, run_id)
        self.config = TrialConfig.from_dict(json.loads(row["config"]))
        self.folder = Path(row["folder"])
        self.segments = [s["id"] for s in store.segments(include_archived=True)]
        self.world = World.build(self.config, self.segments)
        # The simulated agent optimises what a message moves: direct opens first, then the
        # funnel; organic returns are mostly noise to it.
        self.agent_config = AgentConfig(
            reward=RewardWeights(direct_open=1.0, engagement=0.1, intent=0.1, conversion=0.3,
                                 gmv=0.002),
            holdout_share=self.config.holdout_share, draws=self.config.draws, noise_var=0.1)
        self.lib: Store | None = None  # the run's sandbox copy of the programme

    def _library(self, fresh: bool) -> Store:
        if self.lib is None:
            self.lib = open_sandbox(self.store, self.folder, fresh=fresh)
        return self.lib

    def close(self) -> None:
        if self.lib is not None:
            self.lib.close()
            self.lib = None

    # -- set-up --------------------------------------------------------------------------

    def initial_state(self) -> tuple[State, Agent]:
        """Day 0: the library as it is, everyone after a burn-in of business as usual, and an
        agent that has learnt from a short pilot."""
        lib, w, p = self._library(fresh=True), self.world, self.world.params
        if lib.current_mode() != "active":
            lib.record_mode("active", SIM_ACTOR, f"trial #{self.run_id} starts in active "
                                                 "management")
        space = ActionSpace.from_library(lib)
        agent = Agent(space, self.segments, self.agent_config)
        slots = agent.space.slot_names
        st = State(w.pop.size, len(slots))
        # Switches a person makes in the real programme from now on are adopted.
        st.mode_event = max([e["id"] for e in self.store.management_events()] or [0])
        st.d_inactive[:] = w.pop.start_inactive
        st.eng90[:] = w.pop.pre_engagement
        # Before the trial everyone got the business-as-usual message every week.
        st.fatigue[:] = 1.0
        active = lib.components(status="active")
        for a in active:
            st.atoms.add(a, day=-120, seed=self.config.seed)  # the library predates the trial
        bau_slots = Template.from_row(space.templates["push"]).slots
        pool = {s: sorted(a["id"] for a in active if a["kind"] == s and a["segment"] is None)
                for s in bau_slots}
        st.bau_atoms = [st.atoms.index[pool[s][0]] if s in bau_slots else -1 for s in slots]
        st.agent_ids = sorted(a["id"] for a in active)
        st.grow_wear()
        day.burn_in(w, st)
        day.pilot(w, st, agent)
        bau = np.array(st.bau_atoms, np.int32)
        st.last_sig[w.pop.holdout] = content_signature(bau[None, :])[0]
        # Business as usual has sent its message for years: its atoms start worn out.
        for a in st.bau_atoms:
            if a >= 0:
                st.wear_bau[a] = ((p.bau_wear / (1 - p.bau_wear)) ** (1 / 3)
                                  * p.wearout_scale * max(w.pop.holdout.sum(), 1))
        return st, agent

    def _agent_from(self, st: State, previous: Agent | None = None) -> Agent:
        """The agent of the saved posteriors over the library atoms ``st.agent_ids``."""
        models = {k: GaussianPosterior.from_bytes(v) for k, v in st.models.items()}
        space = ActionSpace.from_library(self.lib, atom_ids=st.agent_ids)
        agent = Agent(space, self.segments, self.agent_config, models)
        if previous is not None:  # same features: keep the design rows already built
            agent.reuse_cache(previous)
        return agent

    # -- running -------------------------------------------------------------------------

    def run(self, progress: Callable[[int, int, float], None] | None = None,
            stop_after: int | None = None) -> str:
        """Run (or resume) until the horizon, a pause request, or ``stop_after`` days (a
        simulated crash, for tests). Returns the final status."""
        row = run_row(self.store, self.run_id)
        if row["status"] == "done":
            return "done"
        st = State.load(self.folder)
        self._library(fresh=st is None)
        if st is None:
            st, agent = self.initial_state()
            st.models = {k: m.to_bytes() for k, m in agent.models.items()}
            st.save(self.folder)
        else:
            agent = self._agent_from(st)
        set_run(self.store, self.run_id, pid=os.getpid(), days_done=st.day,
                checkpoint_day=st.day, message="",
                **({} if row["status"] == "pausing" else {"status": "running"}))
        t0 = last_checkpoint = time.perf_counter()
        checkpoint_cost = 0.0
        seconds = row["seconds"]
        done_now = 0
        while st.day < self.config.days:
            if pause_requested(self.store, self.run_id):
                self._checkpoint(st, agent, final=True)
                set_run(self.store, self.run_id, status="paused", days_done=st.day,
                        checkpoint_day=st.day, seconds=seconds + time.perf_counter() - t0)
                return "paused"
            agent = self._day(st, agent)
            st.day += 1
            done_now += 1
            elapsed = seconds + time.perf_counter() - t0
            # Every week boundary; in between as often as costs at most ~10% of the time.
            since = time.perf_counter() - last_checkpoint
            if (st.day % 7 == 0 or st.day == self.config.days
                    or since > max(CHECKPOINT_SECONDS, 10 * checkpoint_cost)):
                c0 = time.perf_counter()
                self._checkpoint(st, agent)
                checkpoint_cost = time.perf_counter() - c0
                last_checkpoint = time.perf_counter()
                set_run(self.store, self.run_id, days_done=st.day, checkpoint_day=st.day,
                        seconds=elapsed)
            else:
                set_run(self.store, self.run_id, days_done=st.day, seconds=elapsed)
            if progress:
                progress(st.day, self.config.days, elapsed)
            if stop_after is not None and done_now >= stop_after:
                return "interrupted"  # as if the process died here
        self._checkpoint(st, agent, final=True)
        self._finish(st)
        set_run(self.store, self.run_id, status="done", days_done=st.day,
                seconds=seconds + time.perf_counter() - t0)
        return "done"

    def _checkpoint(self, st: State, agent: Agent, final: bool = False) -> None:
        """The posteriors only change at week boundaries, where ``st.models`` is refreshed;
        the store gets them at snapshots, pauses and the end."""
        st.save(self.folder)
        if final:
            with self.lib.transaction():
                save_models(self.lib, agent)

    def _mode(self, st: State, t: int) -> str:
        """The management mode of day ``t``: the timeline's, unless a person switched it.

        The mode lives in the run's state (so a resumed run replays its days in the modes they
        had); switches a person records in the real programme while the run goes on are
        adopted. The sandbox's own timeline follows, so its library freezes with the run."""
        for e in run_store.management_events_after(self.store, st.mode_event):
            st.mode_event = e["id"]
            if e["actor"] != SIM_ACTOR:  # runs of earlier versions recorded theirs here
                st.mode = e["mode"]
        if t == self.config.active_days and st.mode == "active":
            st.mode = "passive"
        if self.lib.current_mode() != st.mode:
            self.lib.record_mode(st.mode, SIM_ACTOR, f"trial #{self.run_id}, day {t}: "
                                                     f"{st.mode} management")
        return st.mode

    def _day(self, st: State, agent: Agent) -> Agent:
        t = st.day
        mode = self._mode(st, t)
        if t % 7 == 0:
            agent = self._week_boundary(st, agent, t, mode)
        result = day.simulate_day(self.world, st, t, mode)
        run_store.upsert_daily(self.store, result.rows(self.run_id, self.world))
        return agent

    # -- weekly: learn, curate, decide ---------------------------------------------------

    def _week_boundary(self, st: State, agent: Agent, t: int, mode: str) -> Agent:
        if st.week:
            day.learn_week(st, agent)
            run_store.upsert_weekly(self.store,
                                    day.week_moment_rows(self.world, st, self.run_id, t // 7 - 1))
        # The week's agent is always rebuilt from the saved posteriors, so that a run resumed
        # from a checkpoint continues with exactly the agent an uninterrupted run has.
        st.models = {k: m.to_bytes() for k, m in agent.models.items()}
        agent = self._agent_from(st, previous=agent)
        if mode == "active" and t > 0 and t % self.config.curator_every_days == 0:
            curate(self.lib, agent, self.config, t)
        active = self.lib.components(status="active")
        ids = sorted(a["id"] for a in active)
        if ids != st.agent_ids or t == 0:
            st.agent_ids = ids
            agent = self._agent_from(st)
            for a in active:
                bonus = self.world.params.reserve_quality if (a["seed_key"] or "").startswith(
                    "reserve-") else 0.0
                st.atoms.add(a, day=t, seed=self.config.seed, bonus=bonus)
            st.grow_wear()
        atoms = day.decide_week(self.world, st, agent, t)
        if self.config.users <= self.config.log_decisions_max_users:
            folder = self.folder / "decisions"
            folder.mkdir(parents=True, exist_ok=True)
            atomic_savez(folder / f"week_{t // 7:03d}.npz", **day.decision_log(st, atoms))
        every = self.config.snapshot_every_weeks
        if (t // 7) % every == 0 or t + 7 >= self.config.days:
            self._log_sample(agent, st, t)
        day.schedule_bau(self.world, st, t)
        st.models = {k: m.to_bytes() for k, m in agent.models.items()}
        if (t // 7) % every == 0:
            with self.lib.transaction():
                save_models(self.lib, agent)
        return agent

    def _log_sample(self, agent: Agent, st: State, t: int) -> None:
        """A sample of the week's decisions in the decision log, for the Posteriors page."""
        n = min(2000, len(st.week["users"]))
        if n == 0:
            return
        source = f"simulation:{self.run_id}:{t // 7}"
        idx = np.random.default_rng([self.config.seed, t, 9]).choice(
            len(st.week["users"]), n, replace=False)
        frame = pd.DataFrame({k: v[idx] for k, v in st.week.items()
                              if k not in ("outcome", "users", "delivered")}, copy=False)
        frame.insert(0, "user_id", st.week["users"][idx])
        frame.insert(1, "arm", pd.Categorical(["agent"] * n, ["agent", "holdout"]))
        frame = agent.decode(frame, self.world.date(t))
        run_store.delete_decision_batches(self.lib, source)  # a replayed week replaces it
        at = self.world.date(t)
        record_batch(self.lib, agent, frame, actor=SIM_ACTOR, source=source,
                     seed=self.config.seed, start=at,
                     snapshots=lambda: snapshot_rows(agent, at, frame))

    def _finish(self, st: State) -> None:
        if st.week_days.any():  # the last week's lift: no next week starts to write it
            run_store.upsert_weekly(self.store, day.week_moment_rows(
                self.world, st, self.run_id, (st.day - 1) // 7))
        pop = self.world.pop
        atomic_savez(
            self.folder / "users.npz", holdout=pop.holdout, segment=pop.segment,
            platform=pop.platform, habitual_hour=pop.habitual_hour,
            pre_engagement=pop.pre_engagement, pre_opens=pop.pre_opens,
            start_inactive=pop.start_inactive, phase_metrics=st.phase_metrics,
            phase_days=st.phase_days, metrics=np.array(METRICS), phases=np.array(PHASES),
            segments=np.array(self.segments))
        remove_checkpoints(self.folder)


def run_trial(store: Store, run_id: int, progress: Callable[[int, int, float], None] | None = None,
              stop_after: int | None = None) -> str:
    """Run or resume a registered run in this process; a run that fails is marked failed with
    the reason, for the page to show."""
    claim(store, run_id)
    trial = None
    try:
        trial = Trial(store, run_id)
        return trial.run(progress, stop_after)
    except Exception as e:
        set_run(store, run_id, status="failed", message=f"{type(e).__name__}: {e}")
        raise
    finally:
        if trial is not None:
            trial.close()
