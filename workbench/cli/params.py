"""What every command shares: checked parameter types, the database option, failing cleanly.

Bad flags and files are refused here, by click, before a command does anything: the message
names the flag and the exit code is 2 (a usage error). A command that fails while it runs
raises :class:`CommandFailed` (or lets a ``WorkbenchError`` / ``StoreError`` through to
``main``), which prints one ``error:`` line and exits 1.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import click

from store import Store, StoreError, check_db_file, default_db_path, open_store


class CommandFailed(click.ClickException):
    """A command could not do its work (exit 1); printed as ``error: ...``, never a traceback."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class IsoDate(click.ParamType):
    """A calendar day written ``YYYY-MM-DD``; anything else names the flag and the format."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError as e:
            why = f" ({e})" if "must be" in str(e) else ""
            self.fail(f"'{value}' is not a date; write it as YYYY-MM-DD, e.g. 2026-11-23{why}",
                      param, ctx)
        if not EARLIEST <= day <= LATEST:
            # 9999-12-31 made send times in the year 10000, which no timestamp parser reads
            self.fail(f"'{value}' is out of range: give a day from {EARLIEST} to {LATEST}",
                      param, ctx)
        return day


#: The days a programme's flags may name: a typo's year (0001, 9999) is refused, not logged.
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


class InputFile(click.Path):
    """An existing, readable, non-empty file (a 0-byte file is refused before it is parsed)."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False, readable=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Path:
        path = super().convert(value, param, ctx)
        if path.stat().st_size == 0:
            self.fail(f"{str(path)!r} is empty (0 bytes); expected a CSV file with a header line",
                      param, ctx)
        return path


class OutputFile(click.ParamType):
    """A file that can be written: its folder exists and is writable, and it is not a folder.

    Checked when the flag is parsed, so that a batch is never decided and logged and then
    fails to export.
    """

    name = "FILE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Path:
        path = Path(value)
        folder = path.parent
        if path.is_dir():
            self.fail(f"'{path}' is a folder; name a file inside it", param, ctx)
        if not folder.is_dir():
            self.fail(f"the folder '{folder}' does not exist; create it first", param, ctx)
        if path.exists() and not os.access(path, os.W_OK):
            self.fail(f"'{path}' cannot be written (permission denied)", param, ctx)
        try:  # the folder's permissions alone do not tell (read-only mounts, /proc, root)
            tempfile.NamedTemporaryFile(dir=folder, prefix=".workbench-probe-").close()
        except OSError as e:
            self.fail(f"cannot write into the folder '{folder}': {e.strerror or e}", param, ctx)
        return path


def set_db(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--db FILE``: checked now (a folder, random bytes or a read-only file name the flag),
    then handed on as ``WORKBENCH_DB`` so that the app a command starts uses it too."""
    if value is not None:
        try:
            check_db_file(value)
        except StoreError as e:
            raise click.BadParameter(str(e), ctx, param) from None
        os.environ["WORKBENCH_DB"] = value
    return value


def db_path() -> Path:
    return default_db_path()


def open_db(*, migrate: bool = True) -> Store:
    """The store the command works on: ``--db``, else ``$WORKBENCH_DB``, else the default."""
    return open_store(db_path(), migrate=migrate)


def actor() -> str:
    """Who the audit log names: ``$WORKBENCH_USER``, else ``cli``."""
    return os.environ.get("WORKBENCH_USER", "cli")


#: Sizes, counts and ids: at least 1.
POSITIVE = click.IntRange(min=1)
#: Random seeds: numpy takes none below 0.
SEED = click.IntRange(min=0)
