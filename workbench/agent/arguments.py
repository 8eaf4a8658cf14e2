"""Arguments of the agent's public API checked at the edge: what a caller passes to
:class:`workbench.agent.policy.Agent` and its verbs is refused with a
:class:`workbench.ValidationError` naming the argument, never a traceback from deep inside.

Also here: the guard against learning the same batch twice (:class:`LearntBatches`), the
check that a maximum atom share can hold in every slot (:func:`atom_share_problems`) and the
reading of what :meth:`~workbench.agent.policy.Agent.beliefs` and ``explain`` are asked
(:func:`check_view`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench import Problem, ValidationError
from workbench.agent.actions import ActionSpace, Dimension
from workbench.agent.guardrails import Guardrails
from workbench.agent.mixes import CTX_VARS
from workbench.delimited import repeated_columns

#: Batches (by seed) whose learnt rows an agent remembers, to refuse a second learn of them.
REMEMBERED_BATCHES = 64
#: Bucket names listed in a message before "...".
LISTED = 12
_NO_OPTION = object()


def segments_list(segments: Sequence[str]) -> list[str]:
    """The segment names as a list; none, a string (read as its letters), repeated or non-text
    names refused."""
    if isinstance(segments, (str, bytes)) or not isinstance(segments, Sequence):
        raise ValidationError([Problem("must be a list of segment names, not "
                                       f"{type(segments).__name__}", field="segments")],
                              "Invalid agent")
    out = list(segments)
    if not out:  # else every user would be refused as "unknown segment" at the first decide
        raise ValidationError([Problem("must name at least one segment (users of no segment: "
                                       "give one, e.g. ['all'])", field="segments")],
                              "Invalid agent")
    p = [Problem(f"{s!r} is not a segment name", row=i + 1, field="segments")
         for i, s in enumerate(out) if not isinstance(s, str) or not s.strip()]
    seen: set[str] = set()
    for i, s in enumerate(out):
        if s in seen:
            p.append(Problem(f"segment {s!r} is listed twice", row=i + 1, field="segments"))
        seen.add(s)
    if p:
        raise ValidationError(p, "Invalid agent")
    return out


def atom_share_problems(space: ActionSpace, segments: Sequence[str], g: Guardrails
                        ) -> list[Problem]:
    """A maximum atom share cannot hold where a slot offers fewer than ``1 / share`` atoms
    (to a segment, for segment-scoped atoms): one of them then takes at least ``1 / n``."""
    share = g.max_atom_share
    if share >= 1:
        return []
    p = []
    for d in space.dimensions:
        if d.kind != "slot":
            continue
        scoped = any(o.segment for o in d.options)
        for seg in (segments if scoped else [None]):
            n = sum(o.segment is None or o.segment == seg for o in d.options)
            if n and share * n < 1 - 1e-9:
                where = f"slot {d.name.removeprefix('slot:')!r}" + (
                    f" for segment {seg!r}" if seg is not None else "")
                p.append(Problem(f"{share:g} cannot hold in {where}: it has {n} atoms, so one "
                                 f"takes at least {1 / n:.0%} of the traffic; allow at least "
                                 f"{1 / n:.3g} or offer more atoms", field="max_atom_share"))
    return p


def check_atom_share(space: ActionSpace, segments: Sequence[str], g: Guardrails) -> None:
    p = atom_share_problems(space, segments, g)
    if p:
        raise ValidationError(p, "Invalid guardrails")


def check_users(users: Any) -> None:
    if not isinstance(users, pd.DataFrame):
        raise ValidationError([Problem("must be a DataFrame with a row per user, not "
                                       f"{type(users).__name__}", field="users")],
                              "The users table was rejected")
    if twice := repeated_columns(map(str, users.columns), "users table"):
        raise ValidationError(twice, "The users table was rejected")


def check_seed(seed: Any) -> int | None:
    """``None`` or a whole number >= 0 (numpy integers too; not a bool, float or text)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or seed < 0:
        raise ValidationError([Problem(f"must be a whole number >= 0 or None, not {seed!r}",
                                       field="seed")], "Cannot decide")
    return int(seed)


def check_learn(decisions: Any, outcomes: Any, columns: Sequence[str], late: Any = False,
                same_space: Any = False) -> None:
    """Decisions as :meth:`decide` returned them (or their arrays), outcomes as a DataFrame
    of the same rows, and ``late`` and ``same_space`` true or false (a text such as "no" was
    taken as true)."""
    flags = {"late": late, "same_space": same_space}
    p = []
    if not isinstance(decisions, (pd.DataFrame, Mapping)):
        p.append(Problem("must be the DataFrame decide returned, not "
                         f"{type(decisions).__name__}", field="decisions"))
    else:
        missing = [c for c in columns if c not in decisions]
        if "arm" not in decisions and "holdout" not in decisions:
            missing.append("arm")
        if missing:
            p.append(Problem(f"columns {', '.join(missing)} are missing: pass the decisions "
                             "decide returned (or the logged batch), not the users",
                             field="decisions"))
    if not isinstance(outcomes, pd.DataFrame):
        p.append(Problem("must be a DataFrame of event columns (e.g. direct_open), not "
                         f"{type(outcomes).__name__}", field="outcomes"))
    else:
        p += repeated_columns(map(str, outcomes.columns), "outcomes")
    p += [Problem(f"must be True or False, not {v!r}", field=f)
          for f, v in flags.items() if not isinstance(v, (bool, np.bool_))]
    if not p and len(np.asarray(decisions["guardrails"])) != len(outcomes):
        p.append(Problem(f"decisions ({len(np.asarray(decisions['guardrails']))} rows) and "
                         f"outcomes ({len(outcomes)} rows) must have the same rows"))
    elif not p and _reordered(decisions, outcomes):
        p.append(Problem("has the decisions' index in another order, but rows are matched by "
                         "position: pass outcomes.loc[decisions.index]", field="outcomes"))
    if p:
        raise ValidationError(p, "Cannot learn")


def _reordered(decisions: Any, outcomes: pd.DataFrame) -> bool:
    """Whether ``outcomes`` carry the decisions' own index labels in another order (a sort
    or a merge), which row-by-row matching would give to the wrong decisions. Outcomes with
    a fresh index (0, 1, 2...) were built in the decisions' row order, as documented, even
    when the decisions were sorted."""
    if not isinstance(decisions, pd.DataFrame) or outcomes.index.equals(decisions.index):
        return False
    a, b = decisions.index, outcomes.index
    return not b.equals(pd.RangeIndex(len(b))) and a.is_unique and b.is_unique \
        and bool(a.isin(b).all())


def check_finite(config: Any, fields: Sequence[str]) -> list[Problem]:
    return [Problem(f"must be a finite number, not {getattr(config, f)!r}", field=f)
            for f in fields if isinstance(getattr(config, f), (int, float))
            and math.isinf(getattr(config, f))]


def learn_columns(space: ActionSpace, same_space: bool) -> list[str]:
    """The columns of the decisions :meth:`workbench.agent.policy.Agent.learn` reads."""
    cols = ["guardrails", "send", "choice_send"] + [f"ctx_{v}" for v in CTX_VARS]
    for d in space.dimensions:
        if same_space:
            cols.append(f"choice_{d.name}")
        elif d.kind == "slot":
            cols.append(d.name.replace("slot:", "atom_"))
    return cols + ([] if same_space else ["weekday", "hour", "channel"])


class LearntBatches:
    """The rows of decide batches an agent learnt (by the batch's ``attrs["seed"]``): a
    second non-late learn of rows already learnt is refused (it would count them twice)."""

    def __init__(self) -> None:
        self._rows: dict[int, np.ndarray] = {}

    @staticmethod
    def _keys(decisions: pd.DataFrame) -> np.ndarray:
        cols = [c for c in decisions.columns if c == "user_id" or c == "propensity"
                or str(c).startswith("choice_")]
        frame = decisions[cols].copy()
        frame["user_id"] = frame["user_id"].astype(str)
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()

    def check(self, decisions: Any) -> tuple[int, np.ndarray] | None:
        """Raise if every row of this decide batch was learnt before; else what to
        :meth:`add` once it is learnt (None for frames without a seed)."""
        if not isinstance(decisions, pd.DataFrame) or "seed" not in decisions.attrs \
                or "user_id" not in decisions or not len(decisions):
            return None
        seed, keys = int(decisions.attrs["seed"]), self._keys(decisions)
        done = self._rows.get(seed)
        if done is not None and np.isin(keys, done).all():
            raise ValidationError([Problem(
                f"these {len(keys)} decisions (batch of seed {seed}) were learnt already; "
                "learning them again would count them twice. Pass events that arrived since "
                "with late=True", field="decisions")], "Cannot learn")
        return seed, keys

    def add(self, seen: tuple[int, np.ndarray] | None) -> None:
        if seen is None:
            return
        seed, keys = seen
        done = self._rows.pop(seed, None)
        self._rows[seed] = keys if done is None else np.union1d(done, keys)
        while len(self._rows) > REMEMBERED_BATCHES:
            self._rows.pop(next(iter(self._rows)))


def _listed(names: Sequence[Any]) -> str:
    shown = ", ".join(map(str, names[:LISTED]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > LISTED else "")


def _dimension(space: ActionSpace, name: Any, p: list[Problem]) -> Dimension | None:
    """A dimension by its name, or a slot by its own name (``offer`` for ``slot:offer``) where
    no dimension has that name (``channel`` is the channel dimension, never a slot)."""
    names = [d.name for d in space.dimensions]
    if isinstance(name, str):
        for want in (name, f"slot:{name}"):
            if want in names:
                return space.dimension(want)
    p.append(Problem(f"unknown dimension {name!r}; one of {', '.join(names)}",
                     field="dimension"))
    return None


def _bucket(var: str, value: Any, labels: Sequence[str], p: list[Problem]) -> int:
    """A context variable's bucket, given as its index or its name (``segment`` 1 or
    ``"lapsing_buyers"``)."""
    field = f"context.{var}"
    if isinstance(value, str) and value in labels:
        return list(labels).index(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if 0 <= value < len(labels):
            return int(value)
        p.append(Problem(f"{value!r} is out of range: an index from 0 to {len(labels) - 1} or "
                         f"a name ({_listed(labels)})", field=field))
    else:
        p.append(Problem(f"{value!r} is neither an index from 0 to {len(labels) - 1} nor a "
                         f"name ({_listed(labels)})", field=field))
    return 0


def _has_option(d: Dimension, option: Any) -> bool:
    try:
        d.index_of(option)
    except (KeyError, ValueError, TypeError):  # an array compares element by element
        return False
    return True


def check_view(space: ActionSpace, labels: Mapping[str, Sequence[str]], dimension: Any,
               context: Any, verb: str, *, draws: Any = None, seed: Any = 0,
               option: Any = _NO_OPTION) -> tuple[Dimension, dict[str, int]]:
    """The dimension and the context's bucket indices that
    :meth:`~workbench.agent.policy.Agent.beliefs` (and ``explain``, with its ``option``) read.

    ``context`` maps context variables (``labels``: segment, inactivity, engagement,
    exposures, daypart, platform, consent) to a bucket index or name; variables the dimension
    does not condition on are ignored, as the Posteriors page passes them all. Refused, naming
    each argument: an unknown dimension (the valid names listed), a context that is not a
    mapping, an unknown variable, a bucket out of range or of no such name, ``draws`` that is
    not a whole number >= 1, a ``seed`` that is not a whole number >= 0, an option the
    dimension does not have."""
    p: list[Problem] = []
    d = _dimension(space, dimension, p)
    values: dict[str, int] = {}
    if not isinstance(context, Mapping):
        p.append(Problem("must map context variables to a bucket index or name, e.g. "
                         f"{{'segment': 0}}, not {type(context).__name__}", field="context"))
    else:
        for var, value in context.items():
            if var not in labels:
                p.append(Problem(f"unknown context variable {var!r}; one of "
                                 f"{', '.join(labels)}", field="context"))
            else:
                values[var] = _bucket(var, value, labels[var], p)
    if draws is not None and (isinstance(draws, (bool, np.bool_))
                              or not isinstance(draws, (int, np.integer)) or draws < 1):
        p.append(Problem(f"must be a whole number >= 1 or None, not {draws!r}", field="draws"))
    try:
        check_seed(seed)
    except ValidationError as e:
        p += e.problems
    if d is not None and option is not _NO_OPTION and not _has_option(d, option):
        p.append(Problem(f"{option!r} is not an option of {d.name}; its options are "
                         f"{_listed([o.value for o in d.options])}", field="option"))
    if p:
        raise ValidationError(p, verb)
    assert d is not None
    return d, values
