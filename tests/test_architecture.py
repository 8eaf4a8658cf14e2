"""The layering rules of the developers' guide, checked on the source tree.

- ``store/`` owns every SQL statement and every direct use of the database connection.
- ``workbench/`` never imports Streamlit: pages call it, not the other way round.
- No module under ``workbench/`` is over 450 lines, no class over 250, so each concept stays
  small enough to find and read in one go.

Each test lists every offender (file and line), so a failure says exactly what to move.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Code that must not write SQL or touch the connection: everything but ``store/``.
OUTSIDE_STORE = ("workbench", "pages", "ui", "Home.py")
MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 250

#: A string that is an SQL statement (or the start of one). In capitals, SELECT ... FROM; in any
#: case, a SELECT of ``*``, a number, ``count(``, or a list of column names then FROM, so that
#: prose such as "Select a segment from the list" is not taken for SQL; the other statements
#: by their shape (``INSERT INTO``, ``UPDATE t SET``, ``DELETE FROM``).
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b"
    r"|(?i:\bselect\s+(distinct\s+)?(\*|\d|count\s*\())"
    r"|(?i:\bselect\s+[\w.]+(\s*,\s*[\w.]+)*\s+from\b)"
    r"|(?i:\bINSERT\s+(OR\s+\w+\s+)?INTO\b)"
    r"|(?i:\bUPDATE\s+\w+\s+SET\b)"
    r"|(?i:\bDELETE\s+FROM\b)"
    r"|(?i:\bREPLACE\s+INTO\b)")
#: Calls that run SQL or end a transaction on a connection: only ``store/`` makes them.
DB_CALLS = {"commit", "rollback", "execute", "executemany", "executescript"}


def _python_files(*roots: str) -> list[Path]:
    files = []
    for name in roots:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _strings(tree: ast.Module):
    """Every string literal with its line; an f-string is read whole, with ``{}`` for each
    formatted value, so SQL split around a placeholder is still seen."""
    inside_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                inside_fstrings.add(id(value))
                parts.append(value.value if isinstance(value, ast.Constant) else "{}")
            yield node.lineno, "".join(str(p) for p in parts)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in inside_fstrings):
            yield node.lineno, node.value


def test_sql_is_written_only_in_store():
    offenders = []
    for path in _python_files(*OUTSIDE_STORE):
        for line, text in _strings(_parse(path)):
            if match := SQL.search(text):
                offenders.append(f"{_rel(path)}:{line}: {match.group(0)[:40]!r}")
    offenders = sorted(set(offenders))
    assert offenders == [], "\n" + "\n".join(offenders)


def _database_uses(tree: ast.Module):
    """``.commit()``, ``.execute()`` and the like, ``x.db[...]`` and ``x.db.conn``, by line."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in DB_CALLS):
            yield node.lineno, f".{node.func.attr}()"
        elif (isinstance(node, (ast.Subscript, ast.Attribute))
              and isinstance(node.value, ast.Attribute) and node.value.attr == "db"
              and (isinstance(node, ast.Subscript) or node.attr == "conn")):
            yield node.lineno, ".db[...]" if isinstance(node, ast.Subscript) else ".db.conn"


def test_database_connection_is_used_only_in_store():
    """Reading or writing a table outside ``store/`` goes through a named store function,
    never through the connection or sqlite-utils' tables."""
    offenders = [f"{_rel(path)}:{line}: {what}" for path in _python_files(*OUTSIDE_STORE)
                 for line, what in _database_uses(_parse(path))]
    offenders = sorted(set(offenders))
    assert offenders == [], "\n" + "\n".join(offenders)


def test_workbench_never_imports_streamlit():
    offenders = []
    for path in _python_files("workbench"):
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name == "streamlit" or name.startswith("streamlit."):
                    offenders.append(f"{_rel(path)}:{node.lineno}: import {name}")
    assert offenders == [], "\n" + "\n".join(offenders)


def test_modules_and_classes_are_small():
    offenders = []
    for path in [*_python_files("workbench"), *_python_files("store")]:
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{_rel(path)}: module of {lines} lines (max {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    offenders.append(f"{_rel(path)}:{node.lineno}: class {node.name} of {size} "
                                     f"lines (max {MAX_CLASS_LINES})")
    assert offenders == [], "\n" + "\n".join(offenders)


def _bare_strings(tree: ast.Module) -> list[int]:
    """Lines of string expressions other than a docstring, at module level and in the bodies
    of functions: Streamlit's magic draws them on the page."""
    found = []
    bodies = [tree.body] + [n.body for n in ast.walk(tree)
                            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for body in bodies:
        for i, node in enumerate(body):
            if (i and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)):
                found.append(node.lineno)
    return found


def test_pages_write_no_bare_strings_that_streamlit_would_draw():
    """A note under a constant, written as a docstring, appeared at the top of Posteriors."""
    offenders = [f"{_rel(path)}:{line}" for path in [ROOT / "Home.py", *_python_files("pages")]
                 for line in _bare_strings(_parse(path))]
    assert offenders == [], "\n" + "\n".join(offenders)
    tree = ast.parse('"""doc"""\nX = 1\n"""a note"""\ndef f():\n    """doc"""\n    "x"\n')
    assert _bare_strings(tree) == [3, 6]


def test_the_checks_recognise_what_they_forbid():
    """The patterns above find real SQL and connection calls and leave prose alone, so an
    empty offender list means something."""
    tree = ast.parse(
        'store.query("SELECT id FROM decisions WHERE id = ?", [1])\n'
        'q = f"SELECT * FROM {table} ORDER BY id"\n'
        'sql = "UPDATE decisions SET learned = 1"\n'
        'n = "select count(*) as n from kinds"\n'
        'label = "Select a segment from the list, then update the settings."\n'
        'store.db["quarantine"].insert_all(rows)\n'
        'store.db.conn.commit()\n')
    found = sorted(line for line, text in _strings(tree) if SQL.search(text))
    assert found == [1, 2, 3, 4]
    assert sorted(_database_uses(tree)) == [(6, ".db[...]"), (7, ".commit()"), (7, ".db.conn")]
