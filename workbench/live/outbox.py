"""The outbox's texts: every sent decision as a message a sending platform can send as is.

A day of the study's scale sends millions of messages, fewer distinct ones (a new agent at
8.8M users: 884,000 for 3.68M sends; fewer as it learns): a message is fixed by its channel's
template and the atoms of that template's slots (the atoms of slots the template lacks, like
an SMS's visual, change nothing). So the texts are assembled once per distinct combination
(found with ``np.unique``, not per user in Python), vectorised in Arrow (a field is its literal pieces joined with the
chosen atoms' texts, exactly as :func:`workbench.library.assembly.render` fills a template),
and each decision points at its message (``message``, a row of the day's ``messages``
table). The messages are kept beside the day's decision log, so a rerun of the day writes the
same texts even after the library changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.library.assembly import TEMPLATE_TEXT_FIELDS, Template, parse_slots

#: The texts of a message, in the order the outbox writes them.
TEXT_FIELDS = TEMPLATE_TEXT_FIELDS
MESSAGE_SCHEMA = pa.schema([("message", pa.int32()), ("channel", pa.string()),
                            ("template_id", pa.int64()),
                            *[(f, pa.string()) for f in TEXT_FIELDS]])


def _pieces(pattern: str) -> list[str | tuple[str]]:
    """``pattern`` as literal texts and ``(slot,)`` markers, in order."""
    out: list[str | tuple[str]] = []
    i = 0
    for name in parse_slots(pattern):
        start = pattern.index("{", i)
        end = pattern.index("}", start)
        out += [pattern[i:start], (name,)]
        i = end + 1
    return [*out, pattern[i:]]


def _fill(pattern: str, texts: Mapping[str, pa.Array], n: int) -> pa.Array:
    """The field for ``n`` combinations: ``texts[slot]`` holds each combination's atom text."""
    parts = [texts[p[0]] if isinstance(p, tuple) else pa.scalar(p) for p in _pieces(pattern)
             if p != ""]
    if not any(isinstance(p, pa.Array) for p in parts):
        return pa.array(np.full(n, pattern.strip(), dtype=object), pa.string())
    joined = pc.binary_join_element_wise(*parts, "") if len(parts) > 1 else parts[0]
    return pc.utf8_trim_whitespace(joined)


def render_messages(templates: Mapping[str, Mapping[str, Any]],
                    atoms: Mapping[int, Mapping[str, Any]], channel: np.ndarray,
                    atom_ids: Mapping[str, np.ndarray]) -> tuple[pa.Table, np.ndarray]:
    """The distinct messages of a batch of sent decisions and each decision's message.

    ``templates`` maps a channel to its template row, ``atoms`` an atom id to its library row,
    ``channel`` is each decision's channel and ``atom_ids[slot]`` each decision's atom in
    ``slot``. Returns the messages (:data:`MESSAGE_SCHEMA`) and, per decision, the row of its
    message."""
    channel = np.asarray(channel, dtype=object)
    message = np.full(len(channel), -1, np.int32)
    tables = []
    offset = 0
    for name in sorted(set(channel.tolist())):
        rows = np.flatnonzero(channel == name)
        tpl = Template.from_row(templates[name])
        slots = tpl.slots
        codes, texts = [], {}
        for slot in slots:  # each slot's atoms as dense codes, their texts once
            ids, code = np.unique(np.asarray(atom_ids[slot])[rows], return_inverse=True)
            codes.append((code.astype(np.int64), len(ids)))
            texts[slot] = pa.array([str(atoms[int(i)]["text"]).strip() for i in ids],
                                   pa.string())
        key = np.zeros(len(rows), np.int64)
        for code, size in codes:  # one number per combination (mixed radix)
            key = key * size + code
        combos, inverse = np.unique(key, return_inverse=True)
        k = len(combos)
        chosen: dict[str, pa.Array] = {}
        rest = combos.copy()
        for slot, (_, size) in reversed(list(zip(slots, codes))):
            chosen[slot] = texts[slot].take(pa.array(rest % size))
            rest //= size
        fields = {f: _fill(getattr(tpl, f), chosen, k) for f in TEXT_FIELDS}
        tables.append(pa.table({
            "message": pa.array(np.arange(offset, offset + k, dtype=np.int32)),
            "channel": pa.array([name] * k, pa.string()),
            "template_id": pa.array(np.full(k, templates[name]["id"], np.int64)),
            **fields}, schema=MESSAGE_SCHEMA))
        message[rows] = offset + inverse.reshape(-1)
        offset += k
    table = pa.concat_tables(tables) if tables else MESSAGE_SCHEMA.empty_table()
    return table, message
