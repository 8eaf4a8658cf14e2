"""The rewrite studio: diagnose weak messages, rewrite them faithfully, judge them blind.

``pipeline.Studio`` is the front door; ``copyrules`` is the offline rules writer (``voices`` its
segment voices from the seed folder), ``grounding`` checks every claim of any draft,
``diagnosis`` names the error type, ``judge`` is the offline heuristic judge, ``prompts`` what
the model agents are asked, ``dataset`` and ``scorecard`` the labelled set and its figures;
``llm`` the OpenAI-compatible backends (``llm_config`` where each agent's model lives,
``llm_server`` the bundled local model), ``embeddings`` and
``faithfulness`` the similarity measures, ``performance`` the weak/strong ranking and
``judging`` the blind judgments and their results.
"""

from workbench.studio.pipeline import Studio

__all__ = ["Studio"]
