"""The daily operation a cron job runs: decide a day, write its outbox; load an inbox.

``programme_day`` decides for the day's agent-arm users (the holdout gets business as usual
from the team's own tools, so it is not in the outbox), logs every decision as the day's
Parquet partition, records the batch in SQLite and writes the sent decisions to
``<outbox>/decisions-YYYY-MM-DD.csv`` (or ``.parquet``). It is idempotent per date: a rerun,
after a crash or not, re-writes the same outbox file from the day's log and never makes a
second batch. ``programme_ingest`` loads every events file of an inbox folder that was not
loaded before (by content) and moves, renames or deletes nothing there: the files are the
team's.

Outbox columns: ``decision_id, user_id, channel, send_at`` (UTC, ISO with ``Z``), ``weekday,
hour`` (local, in the programme's time zone: :mod:`workbench.live.pacing`), the
message as the platform sends it (``template_id, title, preheader, body, image``: the channel's
template filled with the chosen atoms, see :mod:`workbench.live.outbox`) and one
``atom_<slot>`` column per message slot (component ids of the library).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from store import Store, StoreBusyError, busy
from store import agent as agent_store
from store import decisions as decisions_store
from store import live as live_store
from workbench import Problem, ValidationError
from workbench.agent.guardrails import GUARDRAILS
from workbench.agent.logrows import log_rows
from workbench.agent.state import current_agent, load_agent, snapshot_rows
from workbench.live import pacing, programme_lock
from workbench.live.activity import ingest_activity
from workbench.live.learning import learn_days
from workbench.live.logs import SHOWN_SLOTS, decisions_dir, shown_slots
from workbench.live.outbox import TEXT_FIELDS, render_messages
from workbench.live.roster import ATTRIBUTES, load_roster

FORMATS = ("csv", "parquet")
#: What deciding needs of the roster (its arrival-time covariates are for the lift report).
DECIDE_COLUMNS = ["user_id", "segment", "arm", "joined_on", *ATTRIBUTES]
INBOX_SUFFIXES = (".csv", ".parquet")
#: The day's distinct messages, beside its decision log.
MESSAGES_FILE = "messages.parquet"
#: Columns of the day's log the outbox is written from (with the ``atom_*`` columns).
OUTBOX_LOG_COLUMNS = ("decision_id", "user_id", "send", "channel", "send_at", "weekday",
                      "hour", "message", "guardrails")
#: Sent decisions written to the outbox at a time.
OUTBOX_SLICE = 500_000


def day_seed(day: date) -> int:
    """The same seed for the same date, so that a rerun decides the same way."""
    return int(hashlib.sha256(day.isoformat().encode()).hexdigest()[:8], 16)


def programme_day(store: Store, day: date | None, outbox: Path, *, fmt: str = "csv",
                  actor: str = "cron", learn_log: bool = True, timezone: str | None = None,
                  max_per_day: int | None = None) -> dict:
    """Decide ``day`` (``None``: today in the programme's time zone) for the agent arm and
    write its outbox file; once per date.

    ``learn_log`` also records the agent-arm decisions in SQLite's decision log, which is
    what decision-attributed events are matched against to teach the agent (the path of
    ``workbench decide``; a row per decision, so it is the slow part at millions of users,
    and the write lock is held while they are inserted: about 2-4 s for 270k). Without it
    only the Parquet log is written (the lift report reads that one).

    One programme command at a time (:func:`workbench.live.programme_lock`): a second run
    for the same day waits for the first and then writes the outbox from the day's log. A
    day is decided when SQLite says so (``live_days``); its Parquet files are written beforehand
    under temporary names and put in place in the transaction that records the day, so a
    run that dies leaves nothing that is taken for a decided day. Everything that takes time
    (deciding, the rows of the logs, the snapshot, writing Parquet) is done before the write
    lock is taken; the transaction only inserts and renames.

    The day is a calendar day in the programme's time zone, ``timezone`` (an IANA name,
    stored with the programme when given; UTC until then): the agent's hours (quiet hours
    included) are local and ``send_at`` is written in UTC. The day's sends keep the agent's
    7-day frequency cap and the daily limit counting the programme's own sends of the days
    around it (:mod:`workbench.live.pacing`); ``max_per_day`` (stored likewise; 1 until
    then) is the most sends a user gets on one local calendar day.
    """
    if fmt not in FORMATS:
        raise ValidationError([Problem(f"'{fmt}' is not one of {', '.join(FORMATS)}",
                                       field="format")], "The day was not decided")
    pacing.check_settings(timezone, max_per_day)
    if day is None:
        day = pacing.local_today(timezone or pacing.stored(store)["timezone"])
    iso = day.isoformat()
    outbox = Path(outbox)
    with programme_lock(store, f"programme day {iso}"):
        settings, changed = pacing.resolve(store, timezone, max_per_day)
        done = live_store.day(store, iso)
        if done is not None:
            if changed:
                with store.transaction():
                    pacing.save(store, changed, actor)
            return _rerun(store, done, outbox, iso, fmt) | settings
        log, messages, batch_id, n_users, n_sent = _decide(store, day, actor, learn_log,
                                                           settings, changed)
        path = _write_outbox(log, messages, outbox, iso, fmt)
    return {"day": iso, "batch_id": batch_id, "users": n_users, "sent": n_sent,
            "frequency_capped": _capped(log), "outbox": str(path), "rerun": False} | settings


def _rerun(store: Store, done: live_store.DayRow, outbox: Path, iso: str, fmt: str) -> dict:
    """The outbox of a day decided before, written again from its log."""
    names = pq.read_schema(done["log_path"]).names
    log = pq.read_table(done["log_path"], columns=[  # what the outbox needs, not the rest
        c for c in names if c in OUTBOX_LOG_COLUMNS or c.startswith("atom_")])
    texts = Path(done["log_path"]).with_name(MESSAGES_FILE)
    if texts.exists():
        messages = pq.read_table(texts)
    else:  # a day decided before the outbox carried texts: today's library renders it
        messages, message = _log_messages(load_agent(store).space, log)
        log = log.append_column("message", pa.array(message))
    path = _write_outbox(log, messages, outbox, iso, fmt)
    return {"day": iso, "batch_id": done["batch_id"], "users": done["n_users"],
            "sent": done["n_sent"], "frequency_capped": _capped(log), "outbox": str(path),
            "rerun": True}


def _capped(log: pa.Table) -> int:
    """The day's decisions the 7-day cap or the daily limit turned into a skip."""
    flags = log.column("guardrails").to_numpy()
    return int(np.count_nonzero(flags & GUARDRAILS["frequency_cap"]))


#: Attempts at naming the day's batch before another process's batch takes its id.
BATCH_ID_ATTEMPTS = 5


class _IdTaken(Exception):
    """Another batch took the id the day's decisions were named with (rolls back)."""


def _decide(store: Store, day: date, actor: str, learn_log: bool, settings: dict,
            changed: dict) -> tuple[pa.Table, pa.Table, int, int, int]:
    """Decide the day and record it: its log, messages, batch id, users and sends;
    ``changed`` settings are stored with the day."""
    iso = day.isoformat()
    roster = load_roster(store, columns=DECIDE_COLUMNS)
    users = roster[(roster["arm"] == "agent") & (roster["joined_on"] <= iso)
                   ].drop(columns=["joined_on"]).reset_index(drop=True)
    del roster  # millions of rows: one copy of the users at a time
    if not len(users):
        raise ValidationError([Problem(f"no agent-arm users in the roster on {iso}")],
                              "The day was not decided")
    agent = load_agent(store)
    seed = day_seed(day)
    decisions = agent.decide(users, seed=seed, start=day)
    pacing.localise(decisions, settings["timezone"])
    pacing.cap_sends(store, decisions, day, zone=settings["timezone"],
                     cap=agent.config.guardrails.frequency_cap_7d,
                     per_day=settings["max_per_day"], outside=users["sends_7d"].to_numpy())
    del users
    n_sent, n_users = int(decisions["send"].sum()), len(decisions)
    messages, message = _frame_messages(agent.space, decisions)
    rows = log_rows(agent.space, decisions) if learn_log else None
    log = _log_table(decisions, 0, agent.space).append_column("message", pa.array(message))
    # The snapshot's traffic shares need the batch; without the SQLite log there is none.
    batch = decisions if learn_log else None
    del decisions, message  # millions of rows: one copy at a time
    log_path = decisions_dir(store) / f"day={iso}" / "batch.parquet"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(BATCH_ID_ATTEMPTS):
        batch_id = decisions_store.next_batch_id(store)
        log = _named(log, batch_id)
        inserts = rows.rows(batch_id) if learn_log else []
        files = [(_temporary(path), path) for path in (log_path.with_name(MESSAGES_FILE),
                                                       log_path)]
        try:
            for (tmp, _), table in zip(files, (messages, log)):
                pq.write_table(table, tmp)
            with _learning(store, learn_log):
                # Deciding learns nothing, so the posteriors are not saved (an ingest may
                # have saved newer ones since the agent was loaded); the snapshot is of them
                # as stored now, under the learning jobs' lock (as `workbench decide`).
                snapshots = snapshot_rows(current_agent(store, agent), day, batch) \
                    if learn_log else []
                _record(store, day, batch_id, seed, actor, n_users, n_sent, inserts,
                        snapshots, files, str(log_path), changed)
            return log, messages, batch_id, n_users, n_sent
        except _IdTaken:
            continue  # a `workbench decide` in between: name the decisions again
        finally:
            for tmp, _ in files:
                tmp.unlink(missing_ok=True)
    raise StoreBusyError(f"other decision batches kept taking the id of {iso}'s batch; the "
                         "day was not decided \u2014 try again in a moment.")


def _learning(store: Store, learn_log: bool):
    """The learning jobs' lock when the day's decisions go to SQLite's learning log."""
    return busy.exclusive(store, "learn") if learn_log else contextlib.nullcontext()


def _record(store: Store, day: date, batch_id: int, seed: int, actor: str, n_users: int,
            n_sent: int, inserts: list[tuple], snapshots: list[dict],
            files: list[tuple[Path, Path]], log_path: str, changed: dict) -> None:
    """The day's one transaction: its batch (named ``batch_id`` or none), its decisions and
    snapshot when they go to SQLite, its Parquet files put in place, its day row and the
    programme settings it was the first to use (``changed``)."""
    iso = day.isoformat()
    with store.transaction():
        if live_store.day(store, iso) is not None:  # a process without the lock
            raise ValidationError([Problem(f"{iso} was decided by another process")],
                                  "The day was not decided again")
        got = decisions_store.insert_batch(
            store, actor=actor, source=f"programme {iso}", seed=seed, start_day=iso,
            n_users=n_users, n_sent=n_sent)
        if got != batch_id:
            raise _IdTaken
        if inserts:
            decisions_store.insert_decision_rows(store, inserts)
            agent_store.save_snapshots(store, snapshots)
            store.audit(actor, "decide", "batch", batch_id, {"users": n_users, "sent": n_sent})
        for tmp, path in files:
            tmp.replace(path)  # a failed commit leaves files no day row points at
        live_store.record_day(store, day_iso=iso, batch_id=batch_id, n_users=n_users,
                              n_sent=n_sent, log_path=log_path)
        pacing.save(store, changed, actor)
        store.audit(actor, "programme day", "batch", batch_id,
                    {"day": iso, "users": n_users, "sent": n_sent})


def _named(log: pa.Table, batch_id: int) -> pa.Table:
    """``log`` with each decision's id (``<batch>-<user>``) for batch ``batch_id``."""
    did = pc.binary_join_element_wise(pa.scalar(str(batch_id)), log.column("user_id"), "-")
    return log.set_column(log.column_names.index("decision_id"), "decision_id", did)


def _temporary(path: Path) -> Path:
    """A name beside ``path`` no other process writes: ``.<name>.<pid>-<random>.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _log_table(decisions, batch_id: int, space) -> pa.Table:
    """The day's decisions as Arrow, with their ``decision_id`` (``<batch>-<user>``, as the
    SQLite decision log names them), and the slots each template showed that day (in the
    schema's metadata: learning the day later must not use a template edited since)."""
    keep = [c for c in decisions.columns if c in ("user_id", "arm", "send", "channel",
                                                   "weekday", "hour", "send_at", "propensity",
                                                   "guardrails")
            or c.startswith(("atom_", "ctx_", "choice_", "p_"))]
    table = pa.Table.from_pandas(decisions[keep], preserve_index=False)
    uid = pc.cast(table.column("user_id"), pa.string())
    did = pc.binary_join_element_wise(pa.scalar(str(batch_id)), uid, "-")
    table = table.set_column(table.column_names.index("user_id"), "user_id", uid
                             ).add_column(0, "decision_id", did)
    return table.replace_schema_metadata({
        **(table.schema.metadata or {}), SHOWN_SLOTS: json.dumps(shown_slots(space)).encode()})


def _messages(space, send: np.ndarray, channel: np.ndarray,
              atoms: dict[str, np.ndarray]) -> tuple[pa.Table, np.ndarray]:
    """The day's distinct messages and each decision's (-1 when not sent); ``atoms`` holds
    the ``atom_<slot>`` columns."""
    sent = np.flatnonzero(send)
    messages, of_sent = render_messages(
        space.templates, space.atoms, np.asarray(channel, object)[sent],
        {c[len("atom_"):]: np.asarray(v)[sent] for c, v in atoms.items()})
    message = np.full(len(send), -1, np.int32)
    message[sent] = of_sent
    return messages, message


def _frame_messages(space, decisions: pd.DataFrame) -> tuple[pa.Table, np.ndarray]:
    return _messages(space, decisions["send"].to_numpy(bool),
                     decisions["channel"].astype(object).to_numpy(),
                     {c: decisions[c].to_numpy() for c in decisions.columns
                      if c.startswith("atom_")})


def _log_messages(space, log: pa.Table) -> tuple[pa.Table, np.ndarray]:
    return _messages(space, log.column("send").to_numpy().astype(bool),
                     pc.cast(log.column("channel"), pa.string()).to_numpy(),
                     {c: log.column(c).to_numpy() for c in log.column_names
                      if c.startswith("atom_")})


def _write_outbox(log: pa.Table, messages: pa.Table, outbox: Path, iso: str, fmt: str) -> Path:
    """The sent decisions for the sending platform, texts included, written in slices (a
    text column of millions of rows at once would double the day's memory) to a temporary
    file renamed into place."""
    sent = log.filter(pc.equal(log.column("send"), True))
    atoms = [c for c in log.column_names if c.startswith("atom_")]
    texts = {c: messages.column(c).combine_chunks() for c in ("template_id", *TEXT_FIELDS)}
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"decisions-{iso}.{fmt}"
    tmp = _temporary(path)  # two runs writing one outbox folder do not share it
    writer = None
    try:
        for start in range(0, max(sent.num_rows, 1), OUTBOX_SLICE):
            part = sent.slice(start, OUTBOX_SLICE)
            which = part.column("message")
            out = pa.table({
                "decision_id": part.column("decision_id"), "user_id": part.column("user_id"),
                "channel": pc.cast(part.column("channel"), pa.string()),
                "send_at": pc.strftime(pc.cast(part.column("send_at"), pa.timestamp("s")),
                                       format="%Y-%m-%dT%H:%M:%SZ"),
                "weekday": part.column("weekday"), "hour": part.column("hour"),
                **{c: v.take(which) for c, v in texts.items()},
                **{c: part.column(c) for c in atoms}})
            if writer is None:
                writer = (pacsv.CSVWriter(tmp, out.schema) if fmt == "csv"
                          else pq.ParquetWriter(tmp, out.schema))
            writer.write_table(out)
        writer.close()
        writer = None
        tmp.replace(path)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return path


def programme_ingest(store: Store, inbox: Path, *, actor: str = "cron",
                     as_of: date | None = None) -> dict:
    """Load each events file of ``inbox`` not loaded before (files are read, never moved),
    then learn the days decided without the SQLite learning log whose attribution window has
    closed by ``as_of`` (today, UTC), see :func:`workbench.live.learning.learn_days`. A file
    that is refused whole (empty, half written, not CSV or Parquet) is listed under
    ``rejected`` with the reason, and the other files are loaded all the same."""
    inbox = Path(inbox)
    if not inbox.is_dir():  # given or the default: a cron job must hear of a wrong path
        why = "is not a folder" if inbox.exists() else "does not exist"
        raise ValidationError([Problem(f"{inbox} {why}", field="inbox")],
                              "Nothing was ingested")
    reports, rejected = [], []
    for path in sorted(p for p in inbox.iterdir()
                       if p.is_file() and p.suffix.lower() in INBOX_SUFFIXES
                       and not p.name.startswith(".")):
        try:
            reports.append(ingest_activity(store, path.read_bytes(), name=path.name,
                                           actor=actor).to_dict())
        except ValidationError as e:  # one half-written file must not hold back the others
            rejected.append({"file": path.name, "reason": str(e)})
    from workbench.live.activity import ingest_totals

    loaded = [r for r in reports if not r["skipped"]]
    learned = learn_days(store, as_of or datetime.now(timezone.utc).date(), actor=actor)
    # the totals add up the files' reports and both learning paths (the SQLite log's, per
    # file, and the Parquet logs' days): one summary a cron job can read
    return {"inbox": str(inbox), "files": len(reports), "loaded": len(loaded),
            "skipped": len(reports) - len(loaded), **ingest_totals(reports, learned),
            "learned": learned, "reports": reports, "rejected": rejected}
