"""Load the demo data in ``seed/`` into a store, idempotently.

Reference rows (kinds, channels, segments, use cases) are upserted by id. Components and
templates carry a ``seed_key``: a key already in the file, active or archived, is left alone,
so seeding twice adds nothing and never brings back what a marketer archived.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from store import Store, now
from workbench import ValidationError
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
