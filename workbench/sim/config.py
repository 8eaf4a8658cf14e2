"""What a simulated trial is asked to do: its configuration, the presets, and its error.

A run's configuration is stored with the run (as JSON), so a run resumed later, by another
process or another version of a page, continues with exactly the settings it started with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from workbench import Problem, ValidationError, WorkbenchError
from workbench.sim.world import WorldParams

SIM_ACTOR = "simulation"
CURATOR = "curator (simulation)"
PHASES = ("active", "passive")
MAX_SNAPSHOT_WEEKS = 4  # posterior snapshots and a sample of decisions for the pages
BURN_IN_DAYS = 56  # business as usual for everyone before day 0
CHECKPOINT_SECONDS = 3.0  # besides every week boundary, at least this often


class TrialError(WorkbenchError):
    """A run cannot start or continue (e.g. it is already running)."""


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
            p.append(Problem(f"is {self.users:,}; it must be between 100 and 20,000,000",
                             field="users"))
        if not 7 <= self.days <= 730:
            p.append(Problem(f"is {self.days}; it must be between 7 and 730", field="days"))
        if not 0 < self.holdout_share < 1:
            p.append(Problem(f"is {self.holdout_share}; it must be between 0 and 1",
                             field="holdout_share"))
        if not 0 <= self.active_days <= self.days:
            p.append(Problem(f"is {self.active_days}; it must be between 0 and the horizon of "
                             f"{self.days} days", field="active_days"))
        if p:
            raise ValidationError(p, "Invalid trial configuration")

    @property
    def snapshot_every_weeks(self) -> int:
        """Weeks between posterior snapshots (and the sample of decisions the pages read):
        every week for runs up to 12 weeks, so a short run's traffic chart has a point a week
        (an 8-week run had 2 or 3), and at most every 4 weeks (12 for the 48-week study)."""
        return max(1, min(MAX_SNAPSHOT_WEEKS, -(-self.days // (7 * 12))))

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
    """A preset with some settings overridden. A horizon given without active days keeps the
    preset's share of active management (``--days 28`` of the study: 10 active days), so a
    shorter trial still has both phases."""
    if name not in PRESETS:
        raise ValidationError([Problem(f"unknown preset '{name}' (known: {', '.join(PRESETS)})",
                                       field="preset")], "Invalid trial configuration")
    base = PRESETS[name]
    given = {k: v for k, v in overrides.items() if v is not None}
    if "days" in given and "active_days" not in given:
        given["active_days"] = round(base.active_days * given["days"] / base.days)
    return replace(base, **given)
