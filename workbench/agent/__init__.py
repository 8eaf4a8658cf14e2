"""The decision agent: composite actions chosen per user by Thompson Sampling.

Front door (the public API that scripts and the CLI use)::

    from workbench.agent import ActionSpace, Agent, AgentConfig, Guardrails

``actions`` builds the action space from the library, ``policy`` holds the agent (``decide`` /
``learn``), ``config`` its configuration, ``contexts`` what each dimension conditions on,
``guardrails`` the limits on its decisions, ``models`` one dimension's features, priors and
Thompson Sampling, ``posterior`` the Bayesian regression behind it, ``sampling`` the per-user
draws, ``reward`` the scalarised reward,
``users`` the user table and its context, ``state`` persistence of models and batches, and
``ingest`` the outcome events that teach the agent.
"""

from workbench.agent.actions import ActionSpace, ActionSpaceError
from workbench.agent.policy import Agent, AgentConfig, Guardrails, MustSend
from workbench.agent.reward import RewardWeights

__all__ = ["ActionSpace", "ActionSpaceError", "Agent", "AgentConfig", "Guardrails", "MustSend",
           "RewardWeights"]
