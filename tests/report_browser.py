"""Open a study's HTML report in headless Chromium, as a reader would, and measure its first screen.

Drives Debian's ``chromium`` through ``chromedriver`` (package ``chromium-driver``) with the W3C WebDriver protocol
over plain HTTP (the standard library only). Used by tests/test_workflow.py; also a script:

    python tests/report_browser.py results/default/report.html [--screenshot first_screen.png] [--size 1400x900]

prints what the first screen shows (title, T1 row, verdict table width) and exits 1 when the top of the verdicts
page is not in it.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

#: flags that work on a machine without GPU, sandbox or network
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
HOW_TO_INSTALL = ("headless Chromium not found: install Debian's packages `apt-get install chromium chromium-driver` "
                  "to run the report check (.ci/run installs them)")

# What the first screen shows: the verdicts page's title, the T1 row of the verdict table and its link, the
# table's width and the width of the pane that holds it, and the page's scroll height.
MEASURE = """
const box = el => { if (!el) return null; const r = el.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height}; };
const title = [...document.querySelectorAll('h1')].find(h => h.textContent.includes('Verdicts of study'));
const table = title ? title.parentElement.querySelector('table') || document.querySelector('table') : null;
const row = table ? [...table.querySelectorAll('tr')].find(tr => tr.cells[0] &&
  tr.cells[0].textContent.trim() === 'T1') : null;
const pane = table ? table.closest('.overflow-auto') : null;
const center = row ? document.elementFromPoint((box(row).left + box(row).right) / 2,
  (box(row).top + box(row).bottom) / 2) : null;
return {viewport: [window.innerWidth, window.innerHeight], title: box(title),
        title_text: title ? title.textContent : null, t1: box(row), table: box(table), pane: box(pane),
        t1_on_top: !!(row && center && row.contains(center)),
        scroll_height: pane ? pane.scrollHeight : document.documentElement.scrollHeight};
"""


def find_chromium() -> tuple[str, str] | None:
    """Paths of (chromium, chromedriver), or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """A headless Chromium window of ``width`` x ``height`` CSS pixels, driven through chromedriver."""

    def __init__(self, width: int = 1400, height: int = 900, timeout: float = 60.0) -> None:
        found = find_chromium()
        if found is None:
            raise RuntimeError(HOW_TO_INSTALL)
        self.browser, driver = found
        self.port = _free_port()
        self.profile = tempfile.mkdtemp(prefix="sparsetopo-chromium-")
        self.driver = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.timeout = timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or self.driver.poll() is not None:
                    self.close()
                    raise RuntimeError("chromedriver did not start") from None
                time.sleep(0.2)
        options = {"binary": self.browser, "args": [*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                                                    f"--window-size={width},{height}"]}
        session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})
        self.session = f"/session/{session['sessionId']}"
        # the viewport itself, exactly (a headless window's outer size and its viewport can differ)
        self._call("POST", f"{self.session}/goog/cdp/execute", {"cmd": "Emulation.setDeviceMetricsOverride", "params": {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}})

    def _call(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            value = json.loads(exc.read() or b"{}").get("value", {})
            raise RuntimeError(f"WebDriver {method} {path}: {value.get('error')}: {value.get('message', '')[:300]}") \
                from None

    def open(self, path: str | Path) -> None:
        self._call("POST", f"{self.session}/url", {"url": Path(path).resolve().as_uri()})

    def run(self, script: str, *args):
        return self._call("POST", f"{self.session}/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, timeout: float = 60.0):
        """Poll ``script`` until it returns something truthy (the report renders its pages with JavaScript)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(script)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.25)

    def click_link(self, text: str) -> None:
        """Click the link with this text as a user would (WebDriver refuses elements outside the viewport)."""
        found = self._call("POST", f"{self.session}/element", {"using": "link text", "value": text})
        self._call("POST", f"{self.session}/element/{next(iter(found.values()))}/click", {})

    def screenshot(self, path: str | Path) -> None:
        Path(path).write_bytes(base64.b64decode(self._call("GET", f"{self.session}/screenshot")))

    def close(self) -> None:
        if getattr(self, "session", None):
            try:
                self._call("DELETE", self.session)
            except (RuntimeError, urllib.error.URLError, ConnectionError):
                pass
        self.driver.terminate()
        try:
            self.driver.wait(10)
        except subprocess.TimeoutExpired:
            self.driver.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def first_screen(report: str | Path, width: int = 1400, height: int = 900, screenshot: str | Path | None = None,
                 browser: Browser | None = None) -> dict:
    """Open ``report`` and measure its first screen (see :data:`MEASURE`); optionally save a screenshot."""
    own = browser is None
    browser = browser or Browser(width, height)
    try:
        browser.open(report)
        if not browser.wait_for("return !!document.querySelector('table') && "
                                "[...document.querySelectorAll('h1')].some(h => h.textContent.includes('Verdicts'))"):
            raise RuntimeError(f"{report}: the verdicts page did not render within a minute")
        time.sleep(0.5)  # let the layout settle (fonts, the rule graph beside the text)
        found = browser.run(MEASURE)
        if screenshot:
            browser.screenshot(screenshot)
        return found
    finally:
        if own:
            browser.close()


def in_view(box: dict | None, viewport: list[int]) -> bool:
    """Whether a bounding box lies entirely inside the viewport."""
    return bool(box) and box["top"] >= 0 and box["left"] >= 0 and box["bottom"] <= viewport[1] \
        and box["right"] <= viewport[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report")
    parser.add_argument("--screenshot")
    parser.add_argument("--size", default="1400x900", help="viewport, WIDTHxHEIGHT (default 1400x900)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    found = first_screen(args.report, width, height, args.screenshot)
    print(json.dumps(found, indent=1))
    ok = in_view(found["title"], found["viewport"]) and in_view(found["t1"], found["viewport"])
    print(f"title and T1 row in the first screen: {ok}; verdict table {found['table']['width']:.0f} px wide in a "
          f"pane of {found['pane']['width']:.0f} px" if found["table"] and found["pane"] else "no verdict table")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
