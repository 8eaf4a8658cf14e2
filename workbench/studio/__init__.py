"""The rewrite studio: diagnose weak messages, rewrite them faithfully, judge them blind.

``pipeline.Studio`` is the front door (``evaluation`` its scoring and both-orders blind
comparison, ``rewrites`` the stored rewrites and accepting or dismissing them); ``copyrules`` is
the offline rules writer (``voices`` its segment voices from the seed folder), ``grounding``
checks every claim of any draft, ``diagnosis`` names the error type, ``judge`` is the offline
heuristic judge, ``prompts`` what the model agents are asked, ``dataset`` and ``scorecard`` the
labelled set and its figures; ``llm`` the OpenAI-compatible backends (``llm_config`` where each
agent's model lives, ``llm_json`` what a call asks for and how its answer is read and scrubbed,
``llm_http`` one request under a deadline and a size cap, ``llm_server`` the bundled local
model), ``embeddings`` and ``faithfulness`` the similarity
measures, ``performance`` the weak/strong ranking and ``judging`` the blind judgments and their
results.
"""

from workbench.studio.pipeline import Studio

__all__ = ["Studio"]
