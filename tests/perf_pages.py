"""Page timings in a real browser: Debian's Chromium (headless, Playwright) against
``streamlit run Home.py`` on a given database file.

    PYTHONPATH=. python tests/perf_pages.py --db FILE [--repeat 3] [--out timings.json]

For every page: a first visit (fills the server's caches, not reported as warm), then
``--repeat`` warm loads in a fresh tab (``goto``: JavaScript bundle, websocket, script run, charts
drawn) and ``--repeat`` switches to it from the menu (what a person does inside the app). Then
two interactions: another Posteriors dimension, another lift phase. A timing ends when the
script run is over (``stApp`` reports ``notRunning`` after a run) and every Plotly chart on the
page has drawn its SVG. The figures are medians (and maxima) in seconds with the load average.

Not a test (the suite does not time things); its JSON goes into the README's timing table.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"

# Title shown by each page (its h1), path in the URL and name in the menu.
PAGES = [("CRM workbench", "", "Home"), ("Components", "Components", "Components"),
         ("Posteriors", "Posteriors", "Posteriors"),
         ("Agent control", "Agent_control", "Agent control"),
         ("Lift report", "Lift_report", "Lift report"),
         ("Rewrite studio", "Rewrite_studio", "Rewrite studio"),
         ("LLM settings", "LLM_settings", "LLM settings")]

# Records every change of the app's script state with its time (ms since navigation start).
_OBSERVER = """
window.__states = [];
new MutationObserver(muts => { for (const m of muts) {
  const el = m.target;
  if (el.getAttribute && el.dataset && el.dataset.testid === 'stApp')
    window.__states.push([performance.now(), el.getAttribute('data-test-script-state')]);
}}).observe(document, {subtree: true, attributes: true,
                       attributeFilter: ['data-test-script-state']});
"""

# Done: the script state changed after `since` and is now notRunning, the title is there and every chart has drawn.
_DONE = """([since, title]) => {
  // any change of state since the action (a fast run may go straight to notRunning)
  if (!window.__states.some(x => x[0] >= since)) return false;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const h = [...document.querySelectorAll('h1')].map(e => e.innerText.trim());
  if (!h.includes(title)) return false;
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  for (const c of charts) if (!c.querySelector('.main-svg')) return false;
  return performance.now();
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(db: Path, port: int, user: str = "perf") -> subprocess.Popen:
    env = dict(os.environ, WORKBENCH_DB=str(db), WORKBENCH_USER=user,
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start")


def _wait(page, since: float, title: str, timeout_s: float = 300) -> float:
    handle = page.wait_for_function(_DONE, arg=[since, title], polling="raf",
                                    timeout=timeout_s * 1000)
    return (handle.json_value() - since) / 1000


def load(page, url: str, title: str) -> float:
    """A full load of the page in this tab: from navigation start to drawn."""
    page.goto(url)
    return _wait(page, 0.0, title)


def switch(page, menu_name: str, title: str) -> float:
    """From the menu in the sidebar to the page drawn."""
    since = page.evaluate("performance.now()")
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=menu_name).first.click()
    return _wait(page, since, title)


def pick(page, label: str, option: str, title: str) -> float:
    """Choose ``option`` in the select box ``label``; until the rerun has drawn."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    since = page.evaluate("performance.now()")
    page.get_by_role("option", name=option, exact=True).click()
    return _wait(page, since, title)


def segment(page, option: str, title: str) -> float:
    """Press ``option`` in a segmented control; until the rerun has drawn."""
    since = page.evaluate("performance.now()")
    page.locator('[data-testid="stButtonGroup"]').get_by_role(
        "radio", name=option, exact=True).first.click()
    return _wait(page, since, title)


def _summary(xs: list[float]) -> dict:
    return {"median_s": round(statistics.median(xs), 3), "max_s": round(max(xs), 3),
            "n": len(xs)}


def bench_pages(db: Path, repeat: int = 3, out_path: Path | None = None) -> dict:
    """Timings of every page and two interactions on ``db``: a JSON-able dict (also written
    to ``out_path`` after each page, so a slow machine still leaves what was measured)."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_app(db, port)
    out: dict = {"db": str(db), "load_before": os.getloadavg(), "pages": {},
                 "interactions": {}}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run"])
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            ctx.add_init_script(_OBSERVER)
            page = ctx.new_page()
            page.set_default_timeout(300_000)
            first = {}
            for title, path, _ in PAGES:
                first[title] = round(load(page, f"{url}/{path}", title), 3)
            out["first_visit_s"] = first
            for title, path, menu in PAGES:
                loads = [load(page, f"{url}/{path}", title) for _ in range(repeat)]
                switches = []
                for _ in range(repeat):
                    other = "Components" if title != "Components" else "LLM settings"
                    switch(page, other, other)
                    switches.append(switch(page, menu, title))
                out["pages"][title] = {"load": _summary(loads), "switch": _summary(switches)}
                if out_path:
                    out_path.write_text(json.dumps(out, indent=2) + "\n")
            load(page, f"{url}/Posteriors", "Posteriors")
            dims = ["channel", "timing", "send", "channel"]
            out["interactions"]["posteriors_dimension"] = _summary(
                [pick(page, "Dimension", d, "Posteriors") for d in dims[:repeat + 1]])
            load(page, f"{url}/Lift_report", "Lift report")
            phases = ["Passive (agent on its own)", "Active management"] * 2
            out["interactions"]["lift_phase"] = _summary(
                [segment(page, ph, "Lift report") for ph in phases[:repeat + 1]])
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out["load_after"] = os.getloadavg()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    result = bench_pages(args.db, args.repeat, args.out)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
