"""Driving the web app in a real headless browser: a uvicorn server in a thread, Debian's Chromium through
Playwright, sign-in, a crawl of every page a role can reach, axe-core and the 320 px / focus checks.

Used by tests/web/test_browser.py and docs/screenshots.py."""

from __future__ import annotations

import importlib.util
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: axe-core as `npm ci --prefix frontend` installs it.
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PASSWORD = "correct horse battery staple"
#: Pages a crawl never opens: they sign out, download or answer JSON.
NEVER = re.compile(r"^/(sign-out|static/|api/)|/download(/|$)")


def browser_missing() -> str:
    """Why the browser tests cannot run here, or '' when they can."""
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (/usr/bin/chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not importable"
    if importlib.util.find_spec("uvicorn") is None:
        return "uvicorn is not importable"
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    base: str
    app: Any


@contextmanager
def serve(app: Any) -> Iterator[Served]:
    """Serve `app` on 127.0.0.1 at a free port in a background thread until the block ends."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, ws="none",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="recoverypbr-test-server", daemon=True)
    thread.start()
    base = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urlopen(f"{base}/sign-in", timeout=5) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start") from None
            time.sleep(0.1)
    try:
        yield Served(base, app)
    finally:
        server.should_exit = True
        thread.join(30)


def sign_in(page: Any, base: str, user: str, password: str = PASSWORD) -> None:
    """Sign in through the form; the page ends on the role's start page."""
    page.goto(f"{base}/sign-in")
    page.fill("#user_name", user)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button:has-text('Sign in')")
    assert "/sign-in" not in page.url, page.locator("main").inner_text()


def pattern(path: str) -> str:
    """A path with its ids (segments holding a digit) replaced by '*': /clients/C0000012 -> /clients/*."""
    return "/".join("*" if re.search(r"\d", part) else part for part in path.split("/"))


LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]'))
  .filter(a => !a.hasAttribute('download'))
  .map(a => a.href)"""
NAV_JS = """() => Array.from(document.querySelectorAll('.govuk-service-navigation__link')).map(a => a.href)"""


def same_origin_path(url: str, base: str) -> str | None:
    parts, home = urlsplit(url), urlsplit(base)
    if (parts.scheme, parts.netloc) != (home.scheme, home.netloc):
        return None
    path = parts.path or "/"
    if NEVER.search(path):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def crawl(page: Any, base: str, check: Callable[[str, int], None]) -> tuple[list[str], list[str]]:
    """Visit the pages a signed-in role reaches, calling `check(path, status)` on each shown: its start page,
    every navigation link, and the first link of each distinct path pattern on those pages (same origin, GET, no
    downloads, no sign-out). Returns (the pages checked, the navigation paths that answer 404: not built yet)."""
    start = urlsplit(page.url).path
    navigation = [p for p in (same_origin_path(u, base) for u in page.evaluate(NAV_JS)) if p]
    first_level = [start] + [p for p in navigation if p != start]
    seen = {pattern(urlsplit(p).path) for p in first_level}
    found: list[str] = []
    checked: list[str] = []
    missing: list[str] = []
    for path in first_level:
        answer = page.goto(base + path)
        if answer is not None and answer.status == 404:
            missing.append(path)
            continue
        for url in page.evaluate(LINKS_JS):
            target = same_origin_path(url, base)
            if target is None or pattern(urlsplit(target).path) in seen:
                continue
            seen.add(pattern(urlsplit(target).path))
            found.append(target)
        check(path, answer.status if answer else 0)
        checked.append(path)
    for path in found:
        answer = page.goto(base + path)
        check(path, answer.status if answer else 0)
        checked.append(path)
    return checked, missing


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return list(page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations.map(v => "
        "({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})))", AXE_TAGS))


def describe(violations: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for url, found in violations.items():
        for v in found:
            lines.append(f"{url}: {v['id']} ({v['impact']}): {v['help']} -> {', '.join(v['nodes'][:8])}")
    return "\n".join(lines)


#: How wide the document is (more than the viewport means the page itself scrolls sideways).
SCROLL_WIDTH_JS = "() => document.documentElement.scrollWidth"
#: Which elements stick out past the right edge (for the failure message).
WIDE_JS = """w => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.app-table-wrap'))
  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))"""

#: The focused element: what it is, whether a focus style shows, and whether it is on screen.
FOCUS_JS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const r = e.getBoundingClientRect();
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const shadow = s.boxShadow && s.boxShadow !== 'none';
  const inView = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 &&
    r.top < window.innerHeight && r.left < window.innerWidth;
  return {what: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + (e.textContent || '').trim().slice(0, 40),
          styled: outline || shadow, inView: inView};
}"""

#: Heading problems: not exactly one h1, or a level skipped on the way down (h2 -> h4).
HEADINGS_JS = """() => {
  const levels = Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6')).map(h => Number(h.tagName[1]));
  const problems = [];
  const h1s = levels.filter(l => l === 1).length;
  if (h1s !== 1) problems.push(h1s + ' h1 headings');
  levels.forEach((l, i) => { if (i > 0 && l > levels[i - 1] + 1) problems.push('h' + levels[i - 1] + ' then h' + l); });
  return problems;
}"""
