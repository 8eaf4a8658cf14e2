"""The rewrite studio: diagnose weak messages, rewrite them faithfully, judge them blind.

``pipeline.Studio`` is the front door; ``copyrules`` is the offline rules engine, ``llm`` the
OpenAI-compatible backends (``llm_config`` where each agent's model lives, ``llm_server`` the
bundled local model), ``embeddings`` and ``faithfulness`` the similarity measures,
``performance`` the weak/strong ranking and ``judging`` the blind judgments and their results.
"""

from workbench.studio.pipeline import Studio

__all__ = ["Studio"]
