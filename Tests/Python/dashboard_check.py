"""Drives the web dashboard in Debian's headless Chromium (through Playwright) for the Swift tests.

usage: dashboard_check.py BASE_URL EMAIL PASSWORD QUERY SCREENSHOT OUT [GO]

Signs in through the page's own form, waits for the page's first load of the analytics, and writes
what the page shows (its charts' bars and points, its cards, its area grid, the errors it logged) as
JSON to OUT. With GO: then waits for that file to appear (the test has seeded more), waits for the
page's next reload, and writes what it shows then to OUT + ".2". The screenshot is kept.
"""
import json
import os
import sys
import time

from playwright.sync_api import sync_playwright

base, email, password, query, screenshot, out = sys.argv[1:7]
go = sys.argv[7] if len(sys.argv) > 7 else None

COLLECT = """() => {
  const charts = {};
  for (const svg of document.querySelectorAll('svg.chart')) {
    charts[svg.id] = {
      bars: [...svg.querySelectorAll('rect.bar')].map(r => ({ start: r.dataset.start, value: Number(r.dataset.value) })),
      points: [...svg.querySelectorAll('circle.point')].map(c => ({ start: c.dataset.start, value: Number(c.dataset.value) })),
    };
  }
  const cards = {};
  for (const card of document.querySelectorAll('.card')) cards[card.dataset.metric] = card.querySelector('.value').textContent;
  const areas = [...document.querySelectorAll('rect.area')].map(r => ({
    geohash: r.dataset.geohash, requests: Number(r.dataset.requests), online: Number(r.dataset.online), fill: r.dataset.fill }));
  return { view: document.body.dataset.view, loads: Number(document.body.dataset.loads), charts, cards, areas,
           error: document.getElementById('load-error').textContent };
}"""

def wait_for_loads(page, more_than, timeout):
    """Polls the page's load counter from here: the page's Content-Security-Policy forbids the
    string evaluation Playwright's wait_for_function uses (evaluate goes through DevTools)."""
    deadline = time.time() + timeout
    while page.evaluate("() => Number(document.body.dataset.loads)") <= more_than:
        if time.time() > deadline:
            raise TimeoutError(f"the page did not load more than {more_than} times in {timeout} s: "
                               + page.evaluate("() => document.getElementById('load-error').textContent + ' ' + document.getElementById('sign-in-error').textContent"))
        time.sleep(0.1)


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True,
                                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/dashboard/?{query}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form#sign-in button[type=submit]")
    wait_for_loads(page, 0, 20)
    first = page.evaluate(COLLECT)
    first["consoleErrors"] = list(errors)
    page.screenshot(path=screenshot, full_page=True)
    with open(out, "w") as f:
        json.dump(first, f)
    if go:
        deadline = time.time() + 60
        while not os.path.exists(go):
            if time.time() > deadline:
                sys.exit("the test never said go")
            time.sleep(0.1)
        # A reload that began before the test seeded may still be on its way: wait for the one after it.
        loads = page.evaluate("() => Number(document.body.dataset.loads)")
        wait_for_loads(page, loads + 1, 30)
        second = page.evaluate(COLLECT)
        second["consoleErrors"] = list(errors)
        page.screenshot(path=screenshot, full_page=True)
        with open(out + ".2", "w") as f:
            json.dump(second, f)
    browser.close()
