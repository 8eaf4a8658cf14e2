"""`workbench decide --out` and `workbench ingest --as-of` at their edges."""

from __future__ import annotations

import json
import re

import pandas as pd

from store import open_store
from workbench.cli import main

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_decide_out_writes_send_at_as_iso_utc_with_z_like_the_outbox(db_path, tmp_path,
                                                                   capsys):
    """Before: `2026-11-23 11:00:00`, no zone marker, beside the outbox's `...Z`."""
    for name in ("b.csv", "b.json"):
        out = tmp_path / name
        assert main(["decide", "--synthetic", "60", "--start", "2026-11-20", "--seed", "1",
                     "--out", str(out)]) == 0
        batch_id = json.loads(capsys.readouterr().out)["batch_id"]
        batch = (pd.DataFrame(json.loads(out.read_text())) if name.endswith(".json")
                 else pd.read_csv(out, dtype={"send_at": str}))
        sent = batch[batch["send"]]
        assert len(sent) and sent["send_at"].str.match(ISO_Z).all(), sent["send_at"].head()
        assert batch.loc[~batch["send"], "send_at"].isna().all()
        with open_store(db_path) as s:  # the same instants as the decision log's (UTC)
            logged = {r["id"]: r["send_at"] for r in s.query(
                "SELECT id, send_at FROM decisions WHERE batch_id = ? AND send = 1",
                [batch_id])}
        assert {d: pd.Timestamp(logged[d], tz="UTC") for d in sent["decision_id"]} == {
            d: pd.Timestamp(t) for d, t in zip(sent["decision_id"], sent["send_at"])}
