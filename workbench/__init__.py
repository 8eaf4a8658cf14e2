"""Core of the agentic CRM workbench: domain logic with no user interface.

Pages in ``pages/`` and the ``workbench`` command call into this package; it never imports
Streamlit. The five subpackages are the design (each ``__init__`` names its front door):

- ``workbench.library``: atoms, templates, validation, channels, seed data, the programme;
- ``workbench.agent``: the action space, the Thompson Sampling agent, rewards, users, ingest;
- ``workbench.sim``: the simulated world and the randomised trial;
- ``workbench.lift``: lift estimators (delta method, ML-RATE) and the lift report;
- ``workbench.studio``: the rewrite studio (pipeline, rules engine, LLM backends, judging).

``cli`` and ``bench`` sit on top. The named exceptions every layer raises live here, so that any
module can raise them without importing another layer.
"""

from __future__ import annotations

from dataclasses import dataclass

__version__ = "0.1.0"



class WorkbenchError(Exception):
    """Base class for every error the core raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one row.

    ``row`` is the number a person sees: the table row, or the line of an imported CSV file
    (header = line 1), or the 1-based position of a JSON object. ``None`` when the problem
    concerns the whole input.
    """

    message: str
    row: int | None = None
    field: str | None = None
    ref: str | None = None  # e.g. "component #12", to find the row again

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.ref:
            where.append(f"({self.ref})")
        if self.field:
            where.append(f"field '{self.field}'")
        return (" ".join(where) + ": " if where else "") + self.message


class ValidationError(WorkbenchError):
    """Input was rejected whole; ``problems`` lists every reason, nothing was written."""

    def __init__(self, problems: list[Problem], summary: str | None = None):
        self.problems = list(problems)
        head = summary or f"{len(self.problems)} problem(s); nothing was saved"
        super().__init__(head + ":\n" + "\n".join(f"- {p}" for p in self.problems))
        self.summary = head


class LibraryFrozenError(WorkbenchError):
    """The library is frozen in passive management; switch to active mode to edit it."""
