"""Versions: cheap fingerprints of what a page's heavy objects are built from, so that pages can
cache them by what they depend on and rebuild them only when it changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store import Store


def agent_version(store: Store) -> tuple:
    """Changes whenever the agent a page would load changes: its saved posteriors (time and
    observations learnt), the library its action space is built from (atoms, templates,
    segments, with their versions), its configuration, and the latest decision batch."""
    (row,) = store.query(
        "SELECT (SELECT COUNT(*) || ':' || COALESCE(MAX(updated_at), '') || ':' "
        "        || COALESCE(SUM(n), 0) FROM agent_models) AS models,"
        " (SELECT COUNT(*) || ':' || COALESCE(SUM(version), 0) || ':' "
        "        || COALESCE(MAX(updated_at), '') FROM components) AS components,"
        " (SELECT COUNT(*) || ':' || COALESCE(SUM(version), 0) || ':' "
        "        || COALESCE(MAX(updated_at), '') FROM templates) AS templates,"
        " (SELECT COUNT(*) || ':' || COALESCE(GROUP_CONCAT(id || '=' || status), '') FROM segments) AS segments,"
        " (SELECT COALESCE(MAX(updated_at), '') FROM agent_settings) AS config,"
        " (SELECT COALESCE(MAX(id), 0) FROM decision_batches) AS batch")
    return tuple(row.values())
