"""A randomised trial in the simulated world: the agent against business as usual.

Users are split at random, stably per user, into the agent's arm (90% by default) and a
business-as-usual holdout (BAU: one fixed push message, at a fixed hour, on a fixed weekday,
every week). The timeline follows the longitudinal study: active management first (a scripted
curator adds atoms from the reserve pool every two weeks and retires the weakest; anything a
person adds on the Components page joins too), then passive management (the library is frozen,
the agent keeps learning). Phase switches are real management events in the store.

The run is crash-safe. At every week boundary (and every day for runs of up to a million users)
the whole state, the agent's posteriors included, is written to the run's folder atomically;
every random number is drawn from a generator seeded by (seed, day), and daily aggregates are
upserted by day. A run resumed after a crash re-simulates the days since its last checkpoint and
ends exactly where an uninterrupted run ends, with no day lost or counted twice.

What is kept (for the pages and the lift analysis): daily aggregates per arm (realised and
expected), weekly per-user moments per arm (for weekly lift with intervals), per-user outcomes
per phase with pre-period covariates (``users.npz``), and for runs up to
``log_decisions_max_users`` the weekly decision logs (``decisions/week_NNN.npz``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from store import Store, now
from workbench.library import service as library
from workbench.agent.actions import ActionSpace
from workbench.agent.policy import Agent, AgentConfig
from workbench.agent.state import record_batch, save_models, snapshot
from workbench import Problem, ValidationError, WorkbenchError
from workbench.agent.posterior import GaussianPosterior
from workbench.agent.reward import EVENTS, RewardWeights
from workbench.library.seed import SEED_DIR
from workbench.agent.users import DAYPART_OF_HOUR, ENGAGEMENT, EXPOSURES, INACTIVITY
from workbench.sim.world import (
    METRICS, AtomTable, Population, WorldParams, content_signature, generate_population,
    open_probability, organic_return, wear,
)

SIM_ACTOR = "simulation"
CURATOR = "curator (simulation)"
PHASES = ("active", "passive")
SNAPSHOT_EVERY_WEEKS = 4
BURN_IN_DAYS = 56  # business as usual for everyone before day 0
NO_DAY = -32768  # no message pending
CHECKPOINT_SECONDS = 3.0  # besides every week boundary, at least this often  # posterior snapshots and a sample of decisions for the pages


@dataclass(frozen=True)
class TrialConfig:
    preset: str = "longitudinal_study"
    users: int = 100_000
    days: int = 336  # 48 weeks, 11 months
    seed: int = 7
    holdout_share: float = 0.10
    active_days: int = 119  # 17 weeks, about 4 months, of active management; then passive
    start: str = "2026-01-05"  # a Monday
    bau_weekday: int = 1  # Tuesday
    bau_hour: int = 19
    curator_every_days: int = 14
    curator_adds: int = 3
    curator_retires: int = 1
    draws: int = 300
    pilot_rounds: int = 4
    log_decisions_max_users: int = 200_000
    world: WorldParams = field(default_factory=WorldParams)

    def __post_init__(self) -> None:
        p = []
        if not 100 <= self.users <= 20_000_000:
            p.append(Problem("must be between 100 and 20,000,000", field="users"))
        if not 7 <= self.days <= 730:
            p.append(Problem("must be between 7 and 730", field="days"))
        if not 0 < self.holdout_share < 1:
            p.append(Problem("must be between 0 and 1", field="holdout_share"))
        if not 0 <= self.active_days <= self.days:
            p.append(Problem("must be between 0 and the horizon", field="active_days"))
        if p:
            raise ValidationError(p, "Invalid trial configuration")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["world"] = self.world.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialConfig:
        d = dict(d)
        world = d.pop("world", {})
        world["weekly"] = tuple(world.get("weekly", WorldParams().weekly))
        world["open_logit"] = tuple(world.get("open_logit", WorldParams().open_logit))
        return cls(**d, world=WorldParams(**world))


PRESETS: dict[str, TrialConfig] = {
    "longitudinal_study": TrialConfig(),
    "quick_demo": TrialConfig(preset="quick_demo", users=20_000, days=84, active_days=42),
}


def preset(name: str, **overrides: Any) -> TrialConfig:
    if name not in PRESETS:
        raise ValidationError([Problem(f"unknown preset '{name}' (known: {', '.join(PRESETS)})",
                                       field="preset")], "Invalid trial configuration")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})


class TrialError(WorkbenchError):
    """A run cannot start or continue (e.g. it is already running)."""


def runs_dir(store: Store) -> Path:
    """``<db name>.runs/`` beside the database file: each file has its own runs."""
    if store.path == ":memory:":
        raise TrialError("a simulated trial needs a database file, not :memory:")
    path = Path(store.path)
    return path.parent / f"{path.name}.runs"


def create_run(store: Store, config: TrialConfig, actor: str) -> int:
    """Register a run (status ``queued``); :func:`run_trial` executes it."""
    with store.transaction():
        run_id = int(store.db["sim_runs"].insert({
            "preset": config.preset, "users": config.users, "days": config.days,
            "seed": config.seed, "config": json.dumps(config.to_dict()), "status": "queued",
            "folder": "", "started_by": actor, "created_at": now(), "updated_at": now()}
        ).last_pk)
        folder = runs_dir(store) / f"run_{run_id:04d}"
        store.db["sim_runs"].update(run_id, {"folder": str(folder)})
        store.audit(actor, "create", "sim_run", run_id, config.to_dict() | {"world": None})
    return run_id


def run_row(store: Store, run_id: int) -> dict[str, Any]:
    rows = store.query("SELECT * FROM sim_runs WHERE id = ?", [run_id])
    if not rows:
        raise TrialError(f"no simulation run #{run_id}")
    return rows[0]


def latest_run(store: Store) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM sim_runs ORDER BY id DESC LIMIT 1")
    return rows[0] if rows else None


def request_pause(store: Store, run_id: int) -> None:
    store.db.execute("UPDATE sim_runs SET status = 'pausing', updated_at = ? "
                     "WHERE id = ? AND status IN ('running', 'queued')", [now(), run_id])
    store.db.conn.commit()


def _set(store: Store, run_id: int, **values: Any) -> None:
    store.db["sim_runs"].update(run_id, dict(values, updated_at=now()))
    store.db.conn.commit()


# -- the simulation ------------------------------------------------------------------------

class _State:
    """Everything that changes during a run; saved whole at checkpoints."""

    ARRAYS = ("d_inactive", "fatigue", "last_send", "prev_send", "last_sig", "eng90",
              "pend_day", "pend_hour", "pend_channel", "pend_atoms", "pend_row", "pend_send",
              "phase_metrics", "week_metrics", "phase_days", "wear_agent", "wear_bau")

    def __init__(self, n: int, slots: int):
        self.day = 0
        self.d_inactive = np.zeros(n, np.int16)
        self.fatigue = np.zeros(n, np.float32)
        self.last_send = np.full(n, -1000, np.int16)
        self.prev_send = np.full(n, -1000, np.int16)
        self.last_sig = np.zeros(n, np.int64)
        self.eng90 = np.zeros(n, np.float32)
        self.pend_day = np.full(n, NO_DAY, np.int16)
        self.pend_hour = np.zeros(n, np.int8)
        self.pend_channel = np.zeros(n, np.int8)
        self.pend_atoms = np.full((n, slots), -1, np.int16)
        self.pend_row = np.full(n, -1, np.int32)
        self.pend_send = np.zeros(n, bool)
        self.phase_metrics = np.zeros((n, 2, len(METRICS)), np.float32)
        self.week_metrics = np.zeros((n, len(METRICS)), np.float32)
        self.phase_days = np.zeros(2, np.int32)
        self.wear_agent = np.zeros(0)
        self.wear_bau = np.zeros(0)
        self.atoms = AtomTable()
        self.bau_atoms: list[int] = []  # world atom indices, per slot of the BAU template
        self.week: dict[str, np.ndarray] = {}  # the agent's decisions of the current week
        self.models: dict[str, bytes] = {}
        self.agent_ids: list[int] = []  # library atom ids in the agent's space
        self.mode = "active"
        self.mode_event = 0  # the last management event the run has seen

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        # Two slots and a pointer: the pointer (a few bytes) is replaced atomically, so a crash
        # at any moment leaves the previous checkpoint whole and pointed at.
        name = f"checkpoint_{self.day % 2}.npz"
        tmp = folder / name
        arrays = {k: getattr(self, k) for k in self.ARRAYS}
        arrays.update({f"week__{k}": v for k, v in self.week.items()})
        arrays.update({f"model__{k}": np.frombuffer(v, np.uint8) for k, v in self.models.items()})
        meta = {"day": self.day, "atoms": asdict(self.atoms) | {"index": None},
                "bau_atoms": self.bau_atoms, "agent_ids": self.agent_ids, "mode": self.mode,
                "mode_event": self.mode_event}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        pointer = folder / "checkpoint.json.tmp"
        pointer.write_text(json.dumps({"file": name, "day": self.day}))
        os.replace(pointer, folder / "checkpoint.json")

    @classmethod
    def load(cls, folder: Path) -> _State | None:
        pointer = folder / "checkpoint.json"
        if not pointer.exists():
            return None
        z = np.load(folder / json.loads(pointer.read_text())["file"])
        st = cls.__new__(cls)
        for k in cls.ARRAYS:
            setattr(st, k, z[k])
        st.week = {k[6:]: z[k] for k in z.files if k.startswith("week__")}
        st.models = {k[7:]: z[k].tobytes() for k in z.files if k.startswith("model__")}
        meta = json.loads(z["meta"].tobytes())
        st.day = meta["day"]
        atoms = meta["atoms"]
        st.atoms = AtomTable(**{k: v for k, v in atoms.items() if k != "index"})
        st.atoms.index = {a: i for i, a in enumerate(st.atoms.ids)}
        st.bau_atoms = meta["bau_atoms"]
        st.agent_ids = meta["agent_ids"]
        st.mode, st.mode_event = meta["mode"], meta["mode_event"]
        return st


class Trial:
    """One run: population, world, agent and BAU, day by day."""

    def __init__(self, store: Store, run_id: int):
        self.store = store
        self.run_id = run_id
        row = run_row(store, run_id)
        self.config = TrialConfig.from_dict(json.loads(row["config"]))
        self.folder = Path(row["folder"])
        self.params = self.config.world
        self.segments = [s["id"] for s in store.segments(include_archived=True)]
        self.pop: Population = generate_population(
            self.config.users, self.segments, self.config.seed, self.config.holdout_share,
            self.params)
        self.start = date.fromisoformat(self.config.start)
        # The simulated agent optimises what a message moves: direct opens first, then the
        # funnel; organic returns are mostly noise to it.
        self.agent_config = AgentConfig(
            reward=RewardWeights(direct_open=1.0, engagement=0.1, intent=0.1, conversion=0.3,
                                 gmv=0.002),
            holdout_share=self.config.holdout_share, draws=self.config.draws, noise_var=0.1)
        self._holdout_idx = np.flatnonzero(self.pop.holdout)
        self._arm_sizes = (self.pop.size - len(self._holdout_idx), len(self._holdout_idx))

    # -- set-up --------------------------------------------------------------------------

    def _bau_template(self) -> dict[str, Any]:
        space = ActionSpace.from_library(self.store)
        return space.templates["push"]

    def _initial_state(self) -> tuple[_State, Agent]:
        store = self.store
        if store.current_mode() != "active":
            store.record_mode("active", SIM_ACTOR, f"trial #{self.run_id} starts in active "
                                                   "management")
        agent = Agent(ActionSpace.from_library(store), self.segments, self.agent_config)
        slots = agent.space.slot_names
        st = _State(self.pop.size, len(slots))
        st.mode_event = max([e["id"] for e in store.management_events()] or [0])
        st.d_inactive[:] = self.pop.start_inactive
        st.eng90[:] = self.pop.pre_engagement
        # Before the trial everyone got the business-as-usual message every week.
        st.fatigue[:] = 1.0
        for a in store.components(status="active"):
            st.atoms.add(a, day=-120, seed=self.config.seed)  # the library predates the trial
        tpl = self._bau_template()
        from workbench.library.assembly import Template
        bau_slots = Template.from_row(tpl).slots
        pool = {s: sorted(a["id"] for a in store.components(kind=s, status="active")
                          if a["segment"] is None) for s in bau_slots}
        st.bau_atoms = [st.atoms.index[pool[s][0]] if s in bau_slots else -1 for s in slots]
        st.agent_ids = sorted(a["id"] for a in store.components(status="active"))
        self._grow_wear(st)
        self._burn_in(st)
        self._pilot(st, agent)
        bau = np.array(st.bau_atoms, np.int32)
        st.last_sig[self.pop.holdout] = content_signature(bau[None, :])[0]
        # Business as usual has sent its message for years: its atoms start worn out.
        for a in st.bau_atoms:
            if a >= 0:
                st.wear_bau[a] = ((self.params.bau_wear / (1 - self.params.bau_wear)) ** (1 / 3)
                                  * self.params.wearout_scale * max(self.pop.holdout.sum(), 1))
        return st, agent

    def _pilot(self, st: _State, agent: Agent) -> None:
        """Before the trial, the agent learns from a pilot: a few rounds of messages to a
        sample of its arm, whose outcomes do not count in the trial (as a deployment would
        start from a short pilot rather than from nothing)."""
        pop, p = self.pop, self.params
        rng = np.random.default_rng([self.config.seed, 5])
        arm = np.flatnonzero(~pop.holdout)
        table = st.atoms.arrays()
        slots = agent.space.slot_names
        channels = [o.value for o in agent.space.dimension("channel").options]
        for r in range(self.config.pilot_rounds):
            users = np.sort(rng.choice(arm, max(len(arm) // 4, 1), replace=False))
            out = agent.decide_arrays(self._codes(st, users), np.zeros(len(users), bool),
                                      np.zeros(len(users), np.int16),
                                      seed=self.config.seed * 100_003 + 90_000 + r)
            atoms = np.full((len(users), len(slots)), -1, np.int32)
            ch = out["choice_channel"].astype(np.int64)
            for j, s in enumerate(slots):
                dim = agent.space.dimension(f"slot:{s}")
                to_world = np.array([st.atoms.index[o.value] for o in dim.options], np.int32)
                uses = np.array([s in agent.space.template_for(c).slots for c in channels])
                atoms[:, j] = np.where(uses[ch], to_world[out[f"choice_slot:{s}"]], -1)
            p_open = open_probability(p, pop, users, atoms, table,
                                      out["choice_timing"] % 24, ch,
                                      np.zeros(pop.size, np.float32),
                                      np.zeros(len(users), np.float32), -30,
                                      np.zeros(len(st.atoms.ids)))
            opened = (rng.random(len(users)) < p_open) & out["send"]
            outcomes = pd.DataFrame({"direct_open": opened.astype(float)})
            out["holdout"] = np.zeros(len(users), bool)
            agent.learn(out, outcomes, same_space=True)

    def _grow_wear(self, st: _State) -> None:
        n = len(st.atoms.ids)
        for name in ("wear_agent", "wear_bau"):
            cur = getattr(st, name)
            if len(cur) < n:
                setattr(st, name, np.concatenate([cur, np.zeros(n - len(cur))]))

    def _agent_from(self, st: _State, previous: Agent | None = None) -> Agent:
        models = {k: GaussianPosterior.from_bytes(v) for k, v in st.models.items()}
        space = ActionSpace.from_library(self.store, atom_ids=st.agent_ids)
        agent = Agent(space, self.segments, self.agent_config, models)
        if previous is not None:  # same features: keep the design rows already built
            for name, pol in agent.policies.items():
                old = previous.policies.get(name)
                if old is not None and old.model.features == pol.model.features \
                        and old.dim == pol.dim and "_design" in old.__dict__:
                    pol.__dict__["_design"] = old.__dict__["_design"]
        return agent

    # -- running -------------------------------------------------------------------------

    def run(self, progress: Callable[[int, int, float], None] | None = None,
            stop_after: int | None = None) -> str:
        """Run (or resume) until the horizon, a pause request, or ``stop_after`` days (a
        simulated crash, for tests). Returns the final status."""
        row = run_row(self.store, self.run_id)
        if row["status"] == "done":
            return "done"
        st = _State.load(self.folder)
        if st is None:
            st, agent = self._initial_state()
            st.models = {k: m.to_bytes() for k, m in agent.models.items()}
            st.save(self.folder)
        else:
            agent = self._agent_from(st)
        _set(self.store, self.run_id, pid=os.getpid(), days_done=st.day, checkpoint_day=st.day,
             message="", **({} if row["status"] == "pausing" else {"status": "running"}))
        t0 = last_checkpoint = time.perf_counter()
        checkpoint_cost = 0.0
        seconds = row["seconds"]
        done_now = 0
        while st.day < self.config.days:
            if self._pause_requested():
                self._checkpoint(st, agent, final=True)
                _set(self.store, self.run_id, status="paused", days_done=st.day,
                     checkpoint_day=st.day, seconds=seconds + time.perf_counter() - t0)
                return "paused"
            agent = self._day(st, agent)
            st.day += 1
            done_now += 1
            elapsed = seconds + time.perf_counter() - t0
            # Every week boundary; in between as often as costs at most ~10% of the time.
            since = time.perf_counter() - last_checkpoint
            due = (st.day % 7 == 0 or st.day == self.config.days
                   or since > max(CHECKPOINT_SECONDS, 10 * checkpoint_cost))
            if due:
                c0 = time.perf_counter()
                self._checkpoint(st, agent)
                checkpoint_cost = time.perf_counter() - c0
                last_checkpoint = time.perf_counter()
                _set(self.store, self.run_id, days_done=st.day, checkpoint_day=st.day,
                     seconds=elapsed)
            else:
                _set(self.store, self.run_id, days_done=st.day, seconds=elapsed)
            if progress:
                progress(st.day, self.config.days, elapsed)
            if stop_after is not None and done_now >= stop_after:
                return "interrupted"  # as if the process died here
        self._checkpoint(st, agent, final=True)
        self._finish(st)
        _set(self.store, self.run_id, status="done", days_done=st.day,
             seconds=seconds + time.perf_counter() - t0)
        return "done"

    def _pause_requested(self) -> bool:
        return self.store.query("SELECT status FROM sim_runs WHERE id = ?",
                                [self.run_id])[0]["status"] == "pausing"

    def _checkpoint(self, st: _State, agent: Agent, final: bool = False) -> None:
        """The posteriors only change at week boundaries, where ``st.models`` is refreshed;
        the store gets them at snapshots, pauses and the end."""
        st.save(self.folder)
        if final:
            with self.store.transaction():
                save_models(self.store, agent)

    def _mode(self, st: _State, day: int) -> str:
        """The management mode of ``day``: the timeline's, unless a person switched it.

        The mode lives in the run's state (so a resumed run replays its days in the modes they
        had); switches a person records in the store while the run goes on are adopted."""
        for e in self.store.query("SELECT * FROM management_events WHERE id > ? ORDER BY id",
                                  [st.mode_event]):
            st.mode_event = e["id"]
            if e["actor"] != SIM_ACTOR:
                st.mode = e["mode"]
        if day == self.config.active_days and st.mode == "active":
            st.mode = "passive"
            if self.store.current_mode() != "passive":
                st.mode_event = self.store.record_mode(
                    "passive", SIM_ACTOR, f"trial #{self.run_id}: timeline switches to passive "
                                          "management")
        return st.mode

    def _day(self, st: _State, agent: Agent) -> Agent:
        t = st.day
        weekday = (self.start.weekday() + t) % 7
        mode = self._mode(st, t)
        if t % 7 == 0:
            agent = self._week_boundary(st, agent, t, mode)
        self._simulate_day(st, agent, t, weekday, mode)
        return agent

    # -- weekly: learn, curate, decide ---------------------------------------------------

    def _week_boundary(self, st: _State, agent: Agent, t: int, mode: str) -> Agent:
        if st.week:
            self._learn_week(st, agent)
            self._write_week_moments(st, t // 7 - 1)
        # The week's agent is always rebuilt from the saved posteriors, so that a run resumed
        # from a checkpoint continues with exactly the agent an uninterrupted run has.
        st.models = {k: m.to_bytes() for k, m in agent.models.items()}
        agent = self._agent_from(st, previous=agent)
        if mode == "active" and t > 0 and t % self.config.curator_every_days == 0:
            self._curate(st, agent, t)
        ids = sorted(a["id"] for a in self.store.components(status="active"))
        if ids != st.agent_ids or t == 0:
            st.agent_ids = ids
            agent = self._agent_from(st)
            for a in self.store.components(status="active"):
                bonus = self.params.reserve_quality if (a["seed_key"] or "").startswith(
                    "reserve-") else 0.0
                st.atoms.add(a, day=t, seed=self.config.seed, bonus=bonus)
            self._grow_wear(st)
        self._decide_week(st, agent, t)
        self._schedule_bau(st, t)
        st.models = {k: m.to_bytes() for k, m in agent.models.items()}
        if (t // 7) % SNAPSHOT_EVERY_WEEKS == 0:
            with self.store.transaction():
                save_models(self.store, agent)
        return agent

    def _codes(self, st: _State, users: np.ndarray) -> dict[str, np.ndarray]:
        pop = self.pop
        sends7 = self._sends_7d(st, users)
        return {
            "segment": pop.segment[users].astype(np.int16),
            "inactivity": INACTIVITY.codes(st.d_inactive[users]),
            "engagement": ENGAGEMENT.codes(st.eng90[users]),
            "exposures": EXPOSURES.codes(sends7),
            "daypart": DAYPART_OF_HOUR[pop.habitual_hour[users]].astype(np.int16),
            "platform": pop.platform[users].astype(np.int16),
            "consent": pop.consent[users].astype(np.int16),
        }

    def _sends_7d(self, st: _State, users: np.ndarray) -> np.ndarray:
        t = st.day
        return ((t - st.last_send[users] < 7).astype(np.int16)
                + (t - st.prev_send[users] < 7).astype(np.int16))

    def _decide_week(self, st: _State, agent: Agent, t: int) -> None:
        pop, p = self.pop, self.params
        users = np.flatnonzero(~pop.holdout & (st.d_inactive >= p.inactive_days))
        codes = self._codes(st, users)
        out = agent.decide_arrays(codes, np.zeros(len(users), bool), self._sends_7d(st, users),
                                  seed=self.config.seed * 100_003 + t)
        weekday_now = (self.start.weekday() + t) % 7
        timing = out["choice_timing"].astype(np.int16)
        planned = t + (timing // 24 - weekday_now) % 7
        send = out["send"]
        slots = agent.space.slot_names
        channels = [o.value for o in agent.space.dimension("channel").options]
        atoms = np.full((len(users), len(slots)), -1, np.int32)
        ch = out["choice_channel"].astype(np.int64)
        for j, s in enumerate(slots):
            dim = agent.space.dimension(f"slot:{s}")
            to_world = np.array([st.atoms.index[o.value] for o in dim.options], np.int32)
            picked = to_world[out[f"choice_slot:{s}"]]
            uses = np.array([s in agent.space.template_for(c).slots for c in channels])
            atoms[:, j] = np.where(uses[ch], picked, -1)
        st.pend_day[users] = planned
        st.pend_hour[users] = (timing % 24).astype(np.int8)
        st.pend_channel[users] = ch.astype(np.int8)
        st.pend_atoms[users] = atoms
        st.pend_row[users] = np.arange(len(users), dtype=np.int32)
        st.pend_send[users] = send
        st.week = {k: np.asarray(v) for k, v in out.items()}
        st.week["users"] = users.astype(np.int64)
        st.week["planned_day"] = planned.astype(np.int16)
        st.week["outcome"] = np.zeros((len(users), len(EVENTS)), np.float32)
        st.week["delivered"] = np.zeros(len(users), bool)
        if self.config.users <= self.config.log_decisions_max_users:
            self._log_decisions(st, atoms, t)
        if (t // 7) % SNAPSHOT_EVERY_WEEKS == 0 or t + 7 >= self.config.days:
            self._log_sample(agent, st, t)

    def _log_decisions(self, st: _State, atoms: np.ndarray, t: int) -> None:
        """The week's decision log (what was decided to be sent, compactly)."""
        w = st.week
        sent = np.flatnonzero(w["send"])
        ids = np.array(st.atoms.ids, np.int32)
        folder = self.folder / "decisions"
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / f"week_{t // 7:03d}.npz", user=w["users"][sent].astype(np.int32),
                 planned_day=w["planned_day"][sent], timing=w["choice_timing"][sent],
                 channel=w["choice_channel"][sent].astype(np.int8),
                 atoms=np.where(atoms[sent] >= 0, ids[np.maximum(atoms[sent], 0)], -1),
                 propensity=w["propensity"][sent].astype(np.float32),
                 guardrails=w["guardrails"][sent])

    def _log_sample(self, agent: Agent, st: _State, t: int) -> None:
        """A sample of the week's decisions in the decision log, for the Posteriors page."""
        n = min(2000, len(st.week["users"]))
        if n == 0:
            return
        source = f"simulation:{self.run_id}:{t // 7}"
        idx = np.random.default_rng([self.config.seed, t, 9]).choice(
            len(st.week["users"]), n, replace=False)
        frame = pd.DataFrame({k: (v[idx] if v.ndim == 1 else v[idx]) for k, v in st.week.items()
                              if k not in ("outcome", "users", "delivered")}, copy=False)
        frame.insert(0, "user_id", st.week["users"][idx])
        frame.insert(1, "arm", pd.Categorical(["agent"] * n, ["agent", "holdout"]))
        frame = agent._decode(frame, self.start + timedelta(days=t))
        with self.store.transaction():
            old = [r["id"] for r in self.store.query(
                "SELECT id FROM decision_batches WHERE source = ?", [source])]
            for b in old:
                self.store.db.execute("DELETE FROM decisions WHERE batch_id = ?", [b])
                self.store.db.execute("DELETE FROM decision_batches WHERE id = ?", [b])
        record_batch(self.store, agent, frame, actor=SIM_ACTOR, source=source,
                     seed=self.config.seed, start=self.start + timedelta(days=t))
        with self.store.transaction():
            snapshot(self.store, agent, self.start + timedelta(days=t), frame)

    def _schedule_bau(self, st: _State, t: int, everyone: bool = False) -> None:
        pop, p = self.pop, self.params
        arm = np.ones(pop.size, bool) if everyone else pop.holdout
        users = np.flatnonzero(arm & (st.d_inactive >= p.inactive_days)
                               & (pop.consent & 1).astype(bool))
        weekday_now = (self.start.weekday() + t) % 7
        st.pend_day[users] = t + (self.config.bau_weekday - weekday_now) % 7
        st.pend_hour[users] = self.config.bau_hour
        st.pend_channel[users] = 0  # push
        st.pend_atoms[users] = np.array(st.bau_atoms, np.int32)
        st.pend_row[users] = -1
        st.pend_send[users] = True

    def _learn_week(self, st: _State, agent: Agent) -> None:
        w = st.week
        # Users who came back before their send day were not messaged: not an observation.
        keep = w["delivered"] | ~w["send"]
        decisions = {k: v[keep] for k, v in w.items() if k not in ("outcome", "users")}
        decisions["send"] = decisions["send"] & decisions["delivered"]
        decisions["holdout"] = np.zeros(int(keep.sum()), bool)
        outcomes = pd.DataFrame(w["outcome"][keep], columns=list(EVENTS))
        if len(outcomes):
            agent.learn(decisions, outcomes, same_space=True)
        st.week = {}

    def _curate(self, st: _State, agent: Agent, t: int) -> None:
        """The scripted marketer: add fresh atoms from the reserve pool, retire the weakest."""
        import csv

        with (SEED_DIR / "reserve_components.csv").open(encoding="utf-8", newline="") as f:
            reserve = list(csv.DictReader(f))
        # Round r takes its own slice of the pool, in the file's order (marketers refresh one
        # kind after another), so a round replayed after a crash adds nothing twice.
        r = t // self.config.curator_every_days - 1
        batch = reserve[r * self.config.curator_adds:(r + 1) * self.config.curator_adds]
        have = self.store.seed_keys("components")
        for row in batch:
            if row["key"] in have:
                continue
            try:
                cid = library.add_component(self.store, row, CURATOR)
            except ValidationError:
                continue
            self.store.db["components"].update(cid, {"seed_key": row["key"], "source": "curator"})
        for _ in range(self.config.curator_retires):
            worst = None
            for d in agent.space.dimensions:
                if d.kind != "slot" or len(d.options) < 6:
                    continue
                pol = agent.policies[d.name]
                idx, mean = pol.model.index(), pol.model.mean
                for o in d.options:
                    f = f"atom:{o.value}"
                    if f in idx and pol.model.precision[idx[f], idx[f]] > 400:
                        if worst is None or mean[idx[f]] < worst[0]:
                            worst = (mean[idx[f]], o.value)
            if worst is not None:
                try:
                    library.set_status(self.store, [worst[1]], "archived", CURATOR)
                except ValidationError:
                    pass

    # -- daily: behaviour --------------------------------------------------------------------

    def _simulate_day(self, st: _State, agent: Agent | None, t: int, weekday: int, mode: str,
                      record: bool = True) -> None:
        pop, p = self.pop, self.params
        rng = np.random.default_rng([self.config.seed, t + BURN_IN_DAYS, 3])
        n = pop.size
        due = np.flatnonzero(st.pend_day == t)
        deliver = due[st.pend_send[due] & (st.d_inactive[due] >= p.inactive_days)]
        st.pend_day[due] = NO_DAY
        p_open = np.zeros(len(deliver), np.float32)
        promoted = np.zeros(len(deliver), bool)
        table = st.atoms.arrays()
        for arm_holdout, wear_name in ((False, "wear_agent"), (True, "wear_bau")):
            pick = np.flatnonzero(pop.holdout[deliver] == arm_holdout)
            users = deliver[pick]
            if not len(users):
                continue
            atoms = st.pend_atoms[users]
            arm_size = max(int(self._arm_sizes[int(arm_holdout)]), 1)
            wear_counts = getattr(st, wear_name)
            worn = wear(wear_counts / arm_size, p.wearout_scale)
            sig = content_signature(atoms)
            repeat = (sig == st.last_sig[users]).astype(np.float32)
            p_open[pick] = open_probability(
                p, pop, users, atoms, table, st.pend_hour[users], st.pend_channel[users],
                st.fatigue, repeat, t, worn)
            if record and not arm_holdout:  # BAU's message reached its steady state long ago
                wear_counts += np.bincount(atoms[atoms >= 0], minlength=len(wear_counts))
            promoted[pick] = ((table["category"][np.maximum(atoms, 0)] == 1)
                              & (atoms >= 0)).any(axis=1)
            st.last_sig[users] = sig
        opened_d = rng.random(len(deliver), dtype=np.float32) < p_open
        # Organic return for everyone; a message nudges it a little (awareness).
        p_org = organic_return(p, pop, st.d_inactive, t, weekday, st.fatigue)
        p_org[deliver] = np.minimum(p_org[deliver] * (1 + p.awareness), 0.95)
        organic = rng.random(n, dtype=np.float32) < p_org
        opened = np.zeros(n, bool)
        opened[deliver[opened_d]] = True
        engaged = organic | opened
        # Funnel for engaged users only.
        eng_idx = np.flatnonzero(engaged)
        org_e = organic[eng_idx]
        intent_m = rng.random(len(eng_idx)) < np.where(org_e, p.intent_organic, p.intent_open)
        conv_m = intent_m & (rng.random(len(eng_idx)) < p.conversion_given_intent)
        prom = np.zeros(n, bool)
        prom[deliver] = promoted
        share = p.vertical_share + p.vertical_boost * (~org_e & prom[eng_idx])
        vert_m = conv_m & (rng.random(len(eng_idx)) < share)
        gmv = np.where(conv_m, rng.lognormal(np.log(p.gmv_mean) - p.gmv_sigma ** 2 / 2,
                                             p.gmv_sigma, len(eng_idx)), 0).astype(np.float32)
        metric = np.column_stack([opened[eng_idx], np.ones(len(eng_idx)), intent_m, conv_m,
                                  vert_m, gmv]).astype(np.float32)
        # A user is reactivated by a real session: an organic return, or an open that went on
        # to show intent. A glance at a notification alone leaves them lapsed.
        reactivated = organic.copy()
        reactivated[eng_idx[intent_m]] = True
        if not record:  # burn-in: only the users' state moves on
            self._advance(st, reactivated, eng_idx, deliver, t)
            return
        phase = PHASES.index(mode)
        st.phase_metrics[eng_idx, phase] += metric
        st.week_metrics[eng_idx] += metric
        st.phase_days[phase] += 1
        # Expected values of the day (what the draws average to), summed per arm.
        q_open = np.zeros(len(deliver), np.float32)
        q_open[:] = (1 - p_org[deliver]) * p_open
        base = p_org.sum(dtype=np.float64), p_org[self._holdout_idx].sum(dtype=np.float64)
        hold_d = pop.holdout[deliver]
        extra = (q_open.sum(dtype=np.float64), q_open[hold_d].sum(dtype=np.float64))
        extra_vert = ((q_open * (p.vertical_share + p.vertical_boost * promoted)).sum(),
                      (q_open * (p.vertical_share + p.vertical_boost * promoted))[hold_d].sum())
        cv = p.conversion_given_intent
        expected = {}
        for a in (0, 1):  # agent = all - holdout
            org = base[0] - base[1] if a == 0 else base[1]
            ex = extra[0] - extra[1] if a == 0 else extra[1]
            exv = extra_vert[0] - extra_vert[1] if a == 0 else extra_vert[1]
            po = p_open.sum() - p_open[hold_d].sum() if a == 0 else p_open[hold_d].sum()
            intent = org * p.intent_organic + ex * p.intent_open
            expected[a] = [po, org + ex, intent, intent * cv,
                           org * p.intent_organic * cv * p.vertical_share + exv * p.intent_open * cv,
                           intent * cv * p.gmv_mean]
        hold_e = pop.holdout[eng_idx]
        realised = {0: metric[~hold_e].sum(axis=0), 1: metric[hold_e].sum(axis=0)}
        sends = {0: int((~hold_d).sum()), 1: int(hold_d.sum())}
        # The agent's observations: outcomes on the planned day of each decision.
        if st.week:
            rows = np.flatnonzero(st.week["planned_day"] == t)
            u = st.week["users"][rows]
            sent_u = np.zeros(n, bool)
            sent_u[deliver] = True
            out = np.zeros((len(rows), len(EVENTS)), np.float32)
            pos = np.full(n, -1, np.int64)
            pos[eng_idx] = np.arange(len(eng_idx))
            k = pos[u]
            hit = k >= 0
            out[hit] = metric[k[hit]][:, [0, 1, 2, 3, 5]]
            st.week["outcome"][rows] = out
            st.week["delivered"][rows] = sent_u[u]
        self._advance(st, reactivated, eng_idx, deliver, t)
        messageable = st.d_inactive >= p.inactive_days
        m_hold = int(messageable[self._holdout_idx].sum())
        m_counts = {0: int(messageable.sum()) - m_hold, 1: m_hold}
        self._write_daily(t, mode, sends, m_counts, realised, expected)

    @staticmethod
    def _advance(st: _State, reactivated: np.ndarray, eng_idx: np.ndarray,
                 deliver: np.ndarray, t: int) -> None:
        """The users' state at the end of day ``t``."""
        st.d_inactive = np.where(reactivated, 0, np.minimum(st.d_inactive.astype(np.int32) + 1,
                                                        30000)).astype(np.int16)
        st.fatigue *= np.float32(np.exp(-1 / 7))
        st.fatigue[deliver] += 1
        st.prev_send[deliver] = st.last_send[deliver]
        st.last_send[deliver] = t
        st.eng90 *= np.float32(1 - 1 / 90)
        st.eng90[eng_idx] += 1

    def _burn_in(self, st: _State) -> None:
        """Before the trial, everyone gets business as usual for ``BURN_IN_DAYS``, so the
        trial starts from the programme's steady state (who is inactive, fatigue) rather than
        from everyone inactive at once."""
        for t in range(-BURN_IN_DAYS, 0):
            weekday = (self.start.weekday() + t) % 7
            if t % 7 == 0:
                self._schedule_bau(st, t, everyone=True)
            self._simulate_day(st, None, t, weekday, "active", record=False)
        st.pend_day[:] = NO_DAY

    def _write_daily(self, t: int, mode: str, sends: dict[int, int], messageable: dict[int, int],
                     realised: dict[int, np.ndarray], expected: dict[int, list[float]]) -> None:
        rows = []
        for a, name in ((0, "agent"), (1, "holdout")):
            rows.append({
                "run_id": self.run_id, "day": t, "arm": name, "mode": mode,
                "date": (self.start + timedelta(days=t)).isoformat(),
                "users": int(self._arm_sizes[a]), "messageable": messageable[a],
                "sends": sends[a],
                **{m: float(realised[a][k]) for k, m in enumerate(METRICS)},
                **{f"e_{m}": float(expected[a][k]) for k, m in enumerate(METRICS)}})
        self.store.db["sim_daily"].upsert_all(rows, pk=("run_id", "day", "arm"))
        self.store.db.conn.commit()

    def _write_week_moments(self, st: _State, week: int) -> None:
        rows = []
        mode = st.mode
        for a, name in ((False, "agent"), (True, "holdout")):
            m = st.week_metrics[self.pop.holdout == a].astype(np.float64)
            for k, metric in enumerate(METRICS):
                rows.append({"run_id": self.run_id, "week": week, "arm": name, "mode": mode,
                             "metric": metric, "n": len(m), "sum": float(m[:, k].sum()),
                             "sumsq": float((m[:, k] ** 2).sum())})
        self.store.db["sim_weekly"].upsert_all(rows, pk=("run_id", "week", "arm", "metric"))
        self.store.db.conn.commit()
        st.week_metrics[:] = 0

    def _finish(self, st: _State) -> None:
        pop = self.pop
        np.savez(
            self.folder / "users.npz", holdout=pop.holdout, segment=pop.segment,
            platform=pop.platform, habitual_hour=pop.habitual_hour,
            pre_engagement=pop.pre_engagement, pre_opens=pop.pre_opens,
            start_inactive=pop.start_inactive, phase_metrics=st.phase_metrics,
            phase_days=st.phase_days, metrics=np.array(METRICS), phases=np.array(PHASES),
            segments=np.array(self.segments))
        # A finished run cannot be resumed: its checkpoints are no longer needed.
        for f in self.folder.glob("checkpoint*"):
            f.unlink()


def start_background(store: Store, run_id: int) -> int:
    """Run (or resume) a run in its own process, so that it outlives the page that started
    it and every browser tab sees it; returns the process id."""
    import subprocess
    import sys

    row = run_row(store, run_id)
    if row["status"] in ("running", "pausing") and row["pid"] and _alive(row["pid"]):
        raise TrialError(f"run #{run_id} is already running")
    folder = Path(row["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "process.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "--db", store.path, "simulate", "--run", str(run_id),
         "--quiet"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        cwd=Path(__file__).resolve().parents[2])
    _set(store, run_id, status="running" if row["status"] != "done" else "done", pid=proc.pid)
    return proc.pid


def progress(row: dict[str, Any]) -> dict[str, Any]:
    """Days done, share, and estimated seconds left of a run row."""
    done, total = row["days_done"], row["days"]
    per_day = row["seconds"] / done if done else None
    alive = bool(row["pid"]) and _alive(row["pid"])
    status = row["status"]
    if status in ("running", "pausing") and not alive and row["pid"]:
        status = "interrupted"  # the process died: resume continues from the checkpoint
    return {"done": done, "total": total, "share": done / total if total else 0.0,
            "eta_seconds": None if per_day is None else per_day * (total - done),
            "status": status}


def run_trial(store: Store, run_id: int, progress: Callable[[int, int, float], None] | None = None,
              stop_after: int | None = None) -> str:
    """Run or resume a registered run in this process."""
    row = run_row(store, run_id)
    if row["status"] == "running" and row["pid"] and row["pid"] != os.getpid() \
            and _alive(row["pid"]):
        raise TrialError(f"run #{run_id} is already running (process {row['pid']})")
    try:
        return Trial(store, run_id).run(progress, stop_after)
    except Exception as e:
        _set(store, run_id, status="failed", message=f"{type(e).__name__}: {e}")
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def daily(store: Store, run_id: int) -> pd.DataFrame:
    return pd.DataFrame(store.query(
        "SELECT * FROM sim_daily WHERE run_id = ? ORDER BY day, arm", [run_id]))


def user_outcomes(run: dict[str, Any]) -> dict[str, np.ndarray] | None:
    path = Path(run["folder"]) / "users.npz"
    if not path.exists():
        return None
    z = np.load(path)
    return {k: z[k] for k in z.files}


def headline_lift(store: Store, run_id: int, metric: str = "direct_open") -> float | None:
    """Relative lift of ``metric`` per user over the run so far (a point estimate)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    rows = store.query(f"SELECT arm, SUM({metric}) AS m, SUM(users) AS u FROM sim_daily "
                       "WHERE run_id = ? GROUP BY arm", [run_id])
    by = {r["arm"]: r for r in rows}
    if len(by) < 2 or not by["holdout"]["m"]:
        return None
    return (by["agent"]["m"] / by["agent"]["u"]) / (by["holdout"]["m"] / by["holdout"]["u"]) - 1
