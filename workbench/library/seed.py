"""Load the demo data in ``seed/`` into a store, idempotently.

Reference rows (kinds, channels, segments, use cases) are upserted by id. Components and
templates carry a ``seed_key``: a key already in the file, active or archived, is left alone,
so seeding twice adds nothing and never brings back what a marketer archived.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from store import Store, now
from store.busy import other_processes, writer_busy
from workbench import ValidationError, WorkbenchError
from workbench.library.validation import check_component, check_template, normalize_component

SEED_DIR = Path(__file__).resolve().parents[2] / "seed"
SEED_ACTOR = "seed"


@dataclass(frozen=True)
class SeedResult:
    components: int
    templates: int
    performance_rows: int

    @property
    def added_anything(self) -> bool:
        return bool(self.components or self.templates or self.performance_rows)


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def seed(store: Store, seed_dir: Path = SEED_DIR) -> SeedResult:
    """Add whatever of the seed files the store does not hold yet, in one transaction."""
    with store.transaction():
        store.upsert_reference("kinds", [
            dict(r, position=int(r["position"])) for r in _csv(seed_dir / "kinds.csv")])
        store.upsert_reference("channels", [
            dict(r, **{k: int(r[k] or 0) for k in ("title_max", "preheader_max", "body_max")})
            for r in _csv(seed_dir / "channels.csv")])
        store.upsert_reference("segments", [
            dict(r, position=i) for i, r in enumerate(_csv(seed_dir / "segments.csv"))])
        use_cases = json.loads((seed_dir / "use_cases.json").read_text(encoding="utf-8"))
        have = store.use_case_ids()
        store.upsert_reference("use_cases", [
            dict(u, verticals=json.dumps(u.get("verticals", [])), created_at=now())
            for u in use_cases if u["id"] not in have])
        kinds = [k["id"] for k in store.kinds()]
        segments = [s["id"] for s in store.segments(include_archived=True)]

        known = store.seed_keys("components")
        added_c = 0
        for line, row in enumerate(_csv(seed_dir / "components.csv"), start=2):
            if row["key"] in known:
                continue
            new = normalize_component(row)
            if problems := check_component(new, kinds=kinds, segments=segments, row_no=line):
                raise ValidationError(problems, "seed/components.csv is invalid")
            store.insert_component(new, SEED_ACTOR, action="seed", source="seed",
                                   seed_key=row["key"])
            added_c += 1

        channels = {c["id"]: c for c in store.channels()}
        components = store.components()
        known = store.seed_keys("templates")
        ids: dict[str, int] = {t["seed_key"]: t["id"] for t in store.templates(status=None)
                               if t["seed_key"]}
        added_t = 0
        for line, row in enumerate(_csv(seed_dir / "templates.csv"), start=2):
            if row["key"] in known:
                continue
            if problems := check_template(row, kinds=kinds, channels=channels,
                                          segments=segments, components=components,
                                          row_no=line):
                raise ValidationError(problems, "seed/templates.csv is invalid")
            meta = {k: row[k] for k in ("flaw", "notes") if row.get(k)}
            ids[row["key"]] = store.insert_template(
                row, SEED_ACTOR, action="seed", source="seed", seed_key=row["key"], meta=meta)
            added_t += 1

        have_perf = {(r["template_id"], r["week_start"]) for r in store.template_performance()}
        perf = []
        for r in _csv(seed_dir / "performance.csv"):
            tid = ids.get(r["template_key"])
            if tid is None or (tid, r["week_start"]) in have_perf:
                continue
            perf.append({"template_id": tid, "week_start": r["week_start"],
                         **{k: int(v) for k, v in r.items()
                            if k not in ("template_key", "week_start")}})
        store.insert_performance(perf)
        result = SeedResult(added_c, added_t, len(perf))
        if result.added_anything:
            store.audit(SEED_ACTOR, "seed", "library", None,
                        {"components": added_c, "templates": added_t, "performance": len(perf)})
    return result


def is_seeded(store: Store) -> bool:
    return store.has_reference_data()


class DatabaseInUseError(WorkbenchError):
    """A reset was refused because another process has the database file open."""


@dataclass(frozen=True)
class ResetResult:
    """Where the old file, its simulation runs and its live programme went (``None``: there
    was none)."""

    backup: Path | None
    runs: Path | None
    live: Path | None = None


def _refuse_if_in_use(db: Path) -> None:
    pids = other_processes(db)
    if pids:
        raise DatabaseInUseError(
            f"{db} is open in another process (pid {', '.join(map(str, pids))}): the app, a "
            "running trial or another command. Stop it, then reset again; nothing was changed "
            "(deleting a file in use would lose the edits it goes on saving).")


def reset_database(db: Path, backups: Path | None = None) -> ResetResult:
    """Move ``db`` aside so that the next open starts from a fresh file: the file is backed up
    (SQLite's online backup, WAL included) to ``backups/`` (default: ``backups`` beside it),
    its ``<db>.runs/`` folder of simulation runs moves there too (a new run #1 must not meet
    the old run's checkpoints and results), then the file and its ``-wal``/``-shm`` go.

    Refused with :class:`DatabaseInUseError`, before anything changes, while another process
    has the file open. Two checks, because each sees what the other cannot: SQLite's own file
    locks (:func:`store.busy.other_processes`: every process that has read the file holds one
    as long as it is open, idle or not), and ``BEGIN EXCLUSIVE`` with a short timeout (a
    writer in the middle of a transaction). The lock check is repeated after the backup, just
    before anything moves.
    """
    db = Path(db)
    if not db.exists():
        return ResetResult(None, None)
    _refuse_if_in_use(db)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    backups = db.parent / "backups" if backups is None else Path(backups)
    backup = backups / f"{db.stem}-{stamp}.db"
    from workbench.live import live_dir
    from workbench.sim.trial import runs_dir  # the trial imports this module

    with Store(db) as store:
        runs, live = runs_dir(store), live_dir(store)
        writer = writer_busy(store)
        if writer:
            raise DatabaseInUseError(
                f"{db} is being written by another process ({writer}); stop it, then reset "
                "again; nothing was changed.")
        store.backup(backup)
    _refuse_if_in_use(db)  # again: someone may have opened it during the backup
    moved = None
    if runs.exists():
        moved = backups / f"{db.stem}-{stamp}.runs"
        shutil.move(str(runs), str(moved))
    # The live programme's roster, decisions and events too: left in place, the fresh file
    # took them over under a new salt and holdout share, and the backup had none of them.
    moved_live = None
    if live.exists():
        moved_live = backups / f"{db.stem}-{stamp}.live"
        shutil.move(str(live), str(moved_live))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return ResetResult(backup, moved, moved_live)
