"""Explaining the agent's beliefs: why one option over the best other."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.agent.actions import Dimension
from workbench.agent.models import DimensionPolicy


def explain(d: Dimension, pol: DimensionPolicy, c: int, option: Any, top: int = 8
            ) -> pd.DataFrame:
    """Why ``option`` over the best other option: each feature's contribution to the
    difference of their posterior mean rewards."""
    mean_w = pol.model.mean
    k = d.index_of(option)
    X = pol.design([c])
    scores = X @ mean_w
    others = [j for j in range(len(d.options)) if j != k]
    if not others:
        return pd.DataFrame(columns=["feature", "contribution"])
    j = max(others, key=lambda i: scores[i])
    diff = (X[k] - X[j]) * mean_w
    order = np.argsort(-np.abs(diff))[:top]
    return pd.DataFrame({
        "feature": [pol.model.features[i] for i in order if diff[i] != 0],
        "contribution": [float(diff[i]) for i in order if diff[i] != 0],
        "versus": d.options[j].label})
