"""Screenshots of every page for the README: Debian's Chromium (headless, Playwright), 1400x900,
against ``streamlit run Home.py`` on a seeded database with a finished simulated run.

    make screenshots            # or: PYTHONPATH=. python tests/screenshots.py [--out DIR]

By default it builds that database in a temporary folder (the demo library, a small
``quick_demo`` run taken to its end, and one decided batch so that Posteriors has traffic and
"why this message"); ``--db FILE`` photographs an existing file instead (e.g. a 100,000-user
run). Each page is shot once its script run is over and every chart has drawn; the Components
page also with its Templates and Preview tabs. Not a test (the suite does not collect it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.perf_pages import (  # noqa: E402  (the repository on the path first)
    _OBSERVER, CHROMIUM, PAGES, _free_port, _wait, load, start_app,
)

WIDTH, HEIGHT = 1400, 900
#: Extra shots of the Components page: (file name, tab to open).
COMPONENT_TABS = [("components-templates.png", "Templates"),
                  ("components-preview.png", "Preview")]


def file_name(title: str) -> str:
    return {"CRM workbench": "home"}.get(title, title.lower().replace(" ", "-")) + ".png"


def build_demo(folder: Path, users: int, days: int, active_days: int) -> Path:
    """A seeded database with a finished ``quick_demo`` run and one decided batch."""
    import pandas as pd

    from store import open_store
    from workbench.agent import state as agent_state
    from workbench.agent.users import synthetic_users
    from workbench.library.seed import seed
    from workbench.sim.trial import create_run, preset, run_trial

    db = folder / "workbench.db"
    with open_store(db) as s:
        seed(s)
        rid = create_run(s, preset("quick_demo", users=users, days=days,
                                   active_days=active_days), "screenshots")
        run_trial(s, rid)
        segments = [x["id"] for x in s.segments()]
        agent_state.decide_batch(s, agent_state.load_agent(s),
                                 synthetic_users(2000, segments, seed=0), actor="screenshots",
                                 source="page", seed=0, start=pd.Timestamp.today().date())
    return db


def shoot(db: Path, out: Path) -> list[Path]:
    """One PNG per page (and per extra Components tab) in ``out``; returns the files."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_app(db, port, user="marketer")  # the name a new user sees in the sidebar
    files = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
            ctx = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
            ctx.add_init_script(_OBSERVER)
            page = ctx.new_page()
            page.set_default_timeout(120_000)
            for title, path, _ in PAGES:
                load(page, f"{url}/{path}", title)
                page.wait_for_timeout(700)  # chart transitions
                files.append(out / file_name(title))
                page.screenshot(path=files[-1])
                if title == "Components":
                    for name, tab in COMPONENT_TABS:
                        open_tab(page, tab, title)
                        files.append(out / name)
                        page.screenshot(path=files[-1])
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return files


def open_tab(page, tab: str, title: str) -> None:
    """Click the tab ``tab`` and wait for the rerun it starts to be drawn (clicked again if
    the click landed before the tabs listened, as happens on a busy machine)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        since = page.evaluate("performance.now()")
        page.get_by_role("tab", name=tab).click()
        try:
            _wait(page, since, title, timeout_s=40)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    page.wait_for_timeout(700)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--db", type=Path, help="photograph this database instead of a new demo")
    ap.add_argument("--users", type=int, default=4000)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--active-days", type=int, default=14)
    args = ap.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        db = args.db or build_demo(Path(tmp), args.users, args.days, args.active_days)
        built = time.monotonic()
        files = shoot(db, args.out)
    print(f"{len(files)} screenshots in {args.out} ({built - started:.0f} s for the demo data, "
          f"{time.monotonic() - built:.0f} s for the pages; load average "
          f"{os.getloadavg()[0]:.1f})")
    for f in files:
        print(f"  {f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}")


if __name__ == "__main__":
    main()
