"""The agent's public API at its edges: partial windows, double learns, infeasible atom
share caps and arguments of the wrong kind (refused as ValidationError naming them)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from workbench import ValidationError
from workbench.agent import ActionSpace, Agent, AgentConfig


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
