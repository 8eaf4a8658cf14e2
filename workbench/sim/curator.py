"""The scripted curator: the marketer of the simulation during active management.

Every ``curator_every_days`` it adds fresh atoms from the reserve pool (seed data) and retires
the atom the agent is most sure is weakest. It works through the library service like a person
would, so its changes are validated, revisioned and audited as ``curator (simulation)``.
"""

from __future__ import annotations

import csv
from functools import cache

from store import Store
from store import runs as run_store
from workbench import ValidationError
from workbench.agent.policy import Agent
from workbench.library import service as library
from workbench.library.seed import SEED_DIR
from workbench.sim.config import CURATOR, TrialConfig

#: Only slots with at least this many options lose one (a small slot keeps its variety).
MIN_OPTIONS_TO_RETIRE = 6
#: An atom is judged only once its weight has this much data behind it (the diagonal of the
#: model's data Gram matrix: about this many decisions that showed the atom).
MIN_OBSERVATIONS_TO_RETIRE = 40


@cache
def reserve_pool() -> tuple[dict[str, str], ...]:
    """The reserve components marketers refresh the library from, in the file's order."""
    with (SEED_DIR / "reserve_components.csv").open(encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


def curate(store: Store, agent: Agent, config: TrialConfig, t: int) -> None:
    """The round of day ``t``: add the round's atoms from the reserve pool, retire the
    weakest. Round r takes its own slice of the pool (marketers refresh one kind after
    another), and atoms already added are recognised by their key, so a round replayed after
    a crash adds nothing twice."""
    r = t // config.curator_every_days - 1
    batch = reserve_pool()[r * config.curator_adds:(r + 1) * config.curator_adds]
    have = store.seed_keys("components")
    for row in batch:
        if row["key"] in have:
            continue
        try:
            with store.transaction():  # added and marked together, or not at all
                cid = library.add_component(store, dict(row), CURATOR)
                run_store.mark_curated(store, cid, row["key"])
        except ValidationError:
            continue
    for _ in range(config.curator_retires):
        worst = weakest_atom(agent)
        if worst is not None:
            try:
                library.set_status(store, [worst], "archived", CURATOR)
            except ValidationError:
                pass


def weakest_atom(agent: Agent) -> int | None:
    """The atom with the lowest posterior mean weight among those the agent knows well, in
    slots with enough options to spare one."""
    worst: tuple[float, int] | None = None
    for d in agent.space.dimensions:
        if d.kind != "slot" or len(d.options) < MIN_OPTIONS_TO_RETIRE:
            continue
        model = agent.policies[d.name].model
        idx, mean = model.index(), model.mean
        for o in d.options:
            f = f"atom:{o.value}"
            if f in idx and model.gram[idx[f], idx[f]] > MIN_OBSERVATIONS_TO_RETIRE:
                if worst is None or mean[idx[f]] < worst[0]:
                    worst = (mean[idx[f]], o.value)
    return None if worst is None else worst[1]
