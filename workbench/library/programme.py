"""The programme at a glance: what the home page and the CLI summarise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store import Store
from workbench.library.assembly import Template


@dataclass(frozen=True)
class Summary:
    use_case: dict[str, Any] | None
    mode: str
    mode_since: dict[str, Any] | None
    atoms_by_kind: list[dict[str, Any]]
    archived_atoms: int
    templates: int
    slot_templates: int

    @property
    def active_atoms(self) -> int:
        return sum(r["atoms"] for r in self.atoms_by_kind)


def summary(store: Store) -> Summary:
    use_cases = store.use_cases()
    events = store.management_events()
    by_kind = store.atoms_by_kind()
    archived = store.archived_atoms()
    templates = store.templates()
    return Summary(
        use_case=use_cases[0] if use_cases else None,
        mode=store.current_mode(),
        mode_since=events[-1] if events else None,
        atoms_by_kind=by_kind,
        archived_atoms=archived,
        templates=len(templates),
        slot_templates=sum(1 for t in templates if Template.from_row(t).slots),
    )
