"""store.versions: the fingerprints pages cache heavy objects by change exactly when what the
object is built from changes."""

from __future__ import annotations

import pandas as pd

from store.versions import agent_version
from workbench.agent import state as agent_state
from workbench.agent.users import synthetic_users


def test_agent_version_follows_batches_models_and_library_edits(store):
    v0 = agent_version(store)
    assert agent_version(store) == v0  # reading changes nothing
    agent = agent_state.load_agent(store)
    users = synthetic_users(300, agent.segments, seed=1)
    agent_state.decide_batch(store, agent, users, actor="t", source="test", seed=1,
                             start=pd.Timestamp("2026-01-05").date())
    v1 = agent_version(store)
    assert v1 != v0 and v1[-1] == 1  # the latest batch is part of it
    agent.models["channel"].n += 5
    agent_state.save_models(store, agent)
    v2 = agent_version(store)
    assert v2 != v1 and v2[1:] == v1[1:]  # only the models changed
    cid = store.components(status="active")[0]["id"]
    store.update_component(cid, {"text": "Hello again, friend"}, "t")
    v3 = agent_version(store)
    assert v3[1] != v2[1] and v3[0] == v2[0]
