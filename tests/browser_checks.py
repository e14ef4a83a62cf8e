"""Measurements the accessibility tests make in a real browser: axe-core, horizontal overflow,
layout shift, focus indicators. Kept apart from the tests so a developer can run them on the
demo site as well:

    PYTHONPATH=scripts:tests .venv/bin/python tests/browser_checks.py site
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
PHONE = {"width": 360, "height": 740}

# Sums every layout shift not caused by the user's input, from the very start of the page.
LAYOUT_SHIFT = """
window.__portalShift = 0;
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) { if (!e.hadRecentInput) window.__portalShift += e.value; });
}).observe({ type: "layout-shift", buffered: true });
"""

# What makes a focused control visible: an outline or a ring drawn by box-shadow.
FOCUS_STYLE = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2;
  const ring = s.boxShadow && s.boxShadow !== "none";
  return { tag: el.tagName, name: el.getAttribute("name") || el.textContent.trim().slice(0, 20),
           visible: Boolean(outline || ring) };
}
"""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.1 A and AA)."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: `make setup-test` installs axe-core (cd tests && npm ci)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},"
        " resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"]),
         "targets": [n["target"] for n in v["nodes"][:5]], "summary": v["nodes"][0].get("failureSummary", "")}
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


def overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scrolling)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def wide_elements(page: Any) -> list[str]:
    """The elements that stick out of the window on the right, for a failure message."""
    return page.evaluate(
        """() => { const w = document.documentElement.clientWidth; const out = [];
        for (const el of document.querySelectorAll('body *')) { const r = el.getBoundingClientRect();
          if (r.right > w + 1 && r.width > 0 && getComputedStyle(el).position !== 'fixed') {
            out.push(el.tagName.toLowerCase() + '.' + String(el.className).split(' ').join('.') + ' ' + Math.round(r.right)); }
          if (out.length > 8) break; }
        return out; }"""
    )


def wait_for_search(page: Any) -> None:
    page.wait_for_selector("[data-portal-search][data-ready]", timeout=20_000)


def layout_shift(page: Any) -> float:
    return float(page.evaluate("() => window.__portalShift"))


def slow_network(page: Any, latency_ms: int = 150) -> None:
    """A slow campus network (every response waits `latency_ms`): results then arrive after the
    first paint, as they do on a busy LAN, and any space not reserved for them shows as a shift."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.emulateNetworkConditions",
                 {"offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1})


def search_shift(page: Any, url: str) -> float:
    """The layout shift of the search page loading `url` on a slow network."""
    page.add_init_script(LAYOUT_SHIFT)
    slow_network(page)
    page.goto(url)
    wait_for_search(page)
    page.wait_for_function("() => document.readyState === 'complete'")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return layout_shift(page)


def pages_of(site_root: str, video: str, word: str) -> dict[str, str]:
    """The key pages of the acceptance checks, as URLs below `site_root`."""
    from urllib.parse import quote

    return {
        "home": "",
        "listing": quote("subjects/数学/"),
        "points": "points/",
        "point": "points/b2/",
        "video": quote(f"r/{video}/"),
        "word": quote(f"r/{word}/"),
        "search": "search/?" + "q=" + quote("钟表") + "&subject=" + quote("数学"),
        "stats": "stats/2023-2024-1/",
        "briefing": "briefings/2023-2024-1-1/",
        "404": "404.html",
    }


def survey(site: Path) -> None:
    """Print axe counts, overflow at 360 px and the search page's layout shift for a built site."""
    from conftest import CHROMIUM, CHROMIUM_ARGS, Server
    from playwright.sync_api import sync_playwright

    server = Server(site)
    video = next(p.name for p in (site / "r").iterdir() if "认识钟表-张敏" in p.name)
    word = next(p.name for p in (site / "r").iterdir() if "圆的面积" in p.name)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            desk = browser.new_page(viewport={"width": 1280, "height": 900})
            phone = browser.new_page(viewport=PHONE)
            search = server.url + pages_of(server.url, video, word)["search"]
            for size in ({"width": 1280, "height": 900}, PHONE):
                shift = search_shift(browser.new_page(viewport=size), search)
                print(f"search layout shift at {size['width']} px: {shift:.3f}")
            for name, path in pages_of(server.url, video, word).items():
                url = server.url + path
                desk.goto(url)
                if name == "search":
                    wait_for_search(desk)
                found = axe_violations(desk)
                phone.goto(url)
                if name == "search":
                    wait_for_search(phone)
                print(f"{name:9} axe serious/critical rules {len(found)}, nodes {sum(v['nodes'] for v in found)}; "
                      f"overflow at 360 px {overflow(phone)} px")
                for v in found:
                    print(f"    {v['id']} ({v['impact']}) x{v['nodes']}: {v['targets'][:3]}")
            browser.close()
    finally:
        server.close()


if __name__ == "__main__":
    survey(Path(sys.argv[1]).resolve())
