"""A run's state and its checkpoint: everything that changes during a run, saved whole.

A checkpoint is written to a temporary file beside the real one, flushed to disk (``fsync``)
and renamed over the previous checkpoint; the folder is synced too, so that the rename itself
survives a power cut. A process killed at any moment therefore leaves either the previous
checkpoint or the new one, whole, never a truncated file. Files a run keeps for the pages
(``users.npz``, the weekly decision logs) are written the same way.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from workbench.sim.config import PHASES, TrialError
from workbench.sim.world import METRICS, AtomTable

NO_DAY = -32768  # no message pending
CHECKPOINT = "checkpoint.npz"


def atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez`` to ``path`` so that readers (and a resume after a crash) only ever see a
    whole file: temporary file, fsync, rename, fsync of the folder."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class State:
    """Everything that changes during a run; saved whole at checkpoints."""

    ARRAYS = ("d_inactive", "fatigue", "last_send", "prev_send", "last_sig", "eng90",
              "pend_day", "pend_hour", "pend_channel", "pend_atoms", "pend_row", "pend_send",
              "phase_metrics", "week_metrics", "phase_days", "week_days", "wear_agent",
              "wear_bau")

    def __init__(self, n: int, slots: int):
        self.day = 0
        self.d_inactive = np.zeros(n, np.int16)
        self.fatigue = np.zeros(n, np.float32)
        self.last_send = np.full(n, -1000, np.int16)
        self.prev_send = np.full(n, -1000, np.int16)
        self.last_sig = np.zeros(n, np.int64)
        self.eng90 = np.zeros(n, np.float32)
        self.pend_day = np.full(n, NO_DAY, np.int16)
        self.pend_hour = np.zeros(n, np.int8)
        self.pend_channel = np.zeros(n, np.int8)
        self.pend_atoms = np.full((n, slots), -1, np.int16)
        self.pend_row = np.full(n, -1, np.int32)
        self.pend_send = np.zeros(n, bool)
        self.phase_metrics = np.zeros((n, 2, len(METRICS)), np.float32)
        self.week_metrics = np.zeros((n, len(METRICS)), np.float32)
        self.phase_days = np.zeros(2, np.int32)
        self.week_days = np.zeros(2, np.int32)  # days of the current week per phase
        self.wear_agent = np.zeros(0)
        self.wear_bau = np.zeros(0)
        self.atoms = AtomTable()
        self.bau_atoms: list[int] = []  # world atom indices, per slot of the BAU template
        self.week: dict[str, np.ndarray] = {}  # the agent's decisions of the current week
        self.models: dict[str, bytes] = {}
        self.agent_ids: list[int] = []  # library atom ids in the agent's space
        self.mode = "active"
        self.mode_event = 0  # the last management event the run has seen

    def grow_wear(self) -> None:
        """Wear counters for atoms the world met since they were last grown (start at 0)."""
        n = len(self.atoms.ids)
        for name in ("wear_agent", "wear_bau"):
            cur = getattr(self, name)
            if len(cur) < n:
                setattr(self, name, np.concatenate([cur, np.zeros(n - len(cur))]))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {k: getattr(self, k) for k in self.ARRAYS}
        arrays.update({f"week__{k}": v for k, v in self.week.items()})
        arrays.update({f"model__{k}": np.frombuffer(v, np.uint8) for k, v in self.models.items()})
        meta = {"day": self.day, "atoms": asdict(self.atoms) | {"index": None},
                "bau_atoms": self.bau_atoms, "agent_ids": self.agent_ids, "mode": self.mode,
                "mode_event": self.mode_event}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        atomic_savez(folder / CHECKPOINT, **arrays)

    @classmethod
    def load(cls, folder: Path) -> State | None:
        """The run's last checkpoint, or None when it has none yet."""
        path = folder / CHECKPOINT
        pointer = folder / "checkpoint.json"  # earlier versions: two slots and a pointer
        if not path.exists() and pointer.exists():
            path = folder / json.loads(pointer.read_text())["file"]
        if not path.exists():
            return None
        try:
            with np.load(path) as z:
                return cls._from_arrays({k: z[k] for k in z.files})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise TrialError(f"the checkpoint {path} cannot be read ({type(e).__name__}: {e}); "
                             "the run cannot be resumed from it") from e

    @classmethod
    def _from_arrays(cls, z: dict[str, np.ndarray]) -> State:
        st = cls.__new__(cls)
        meta = json.loads(z["meta"].tobytes())
        if "week_days" not in z:  # earlier versions: the week's days so far, in today's mode
            z["week_days"] = np.zeros(2, np.int32)
            z["week_days"][PHASES.index(meta["mode"])] = meta["day"] % 7
        for k in cls.ARRAYS:
            setattr(st, k, z[k])
        st.week = {k[6:]: v for k, v in z.items() if k.startswith("week__")}
        st.models = {k[7:]: v.tobytes() for k, v in z.items() if k.startswith("model__")}
        st.day = meta["day"]
        atoms = meta["atoms"]
        st.atoms = AtomTable(**{k: v for k, v in atoms.items() if k != "index"})
        st.atoms.index = {a: i for i, a in enumerate(st.atoms.ids)}
        st.bau_atoms = meta["bau_atoms"]
        st.agent_ids = meta["agent_ids"]
        st.mode, st.mode_event = meta["mode"], meta["mode_event"]
        return st


def remove_checkpoints(folder: Path) -> None:
    """A finished run cannot be resumed: its checkpoints (and any temporary file a killed
    writer left) are no longer needed."""
    for f in folder.glob("checkpoint*"):
        f.unlink()
