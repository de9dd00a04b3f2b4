"""The comparison report in a real browser: every chart loads, no link leads off the page, and a screenshot.

`sufficiency compare` writes a self-contained report.html (charts as base64 PNG). This opens it from disk in
headless Chromium through Selenium and checks what a reader would see. Needs Debian's `chromium` and
`chromium-driver` (`.ci/run` installs them when it can); without them the test is skipped. With
UPDATE_SCREENSHOTS=1 the first screen also replaces docs/images/report_first_screen.png (not by default, so a test
run leaves the tree clean).
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import cli_process

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver", "chromedriver")
BROWSER_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"
REPLICATIONS = "50" if UPDATE_SCREENSHOTS else "3"  # the README's picture: intervals as a real run has them
MIN_IMAGES = 5

IMAGES_JS = """
return Array.from(document.images).map(img => ({
    alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
    inline: (img.currentSrc || img.src).startsWith('data:image/')
}));
"""
LINKS_JS = """
return Array.from(document.querySelectorAll('a')).map(a => ({
    href: a.getAttribute('href'), text: a.textContent.trim().slice(0, 60)
}));
"""
FIRST_SCREEN = Path(__file__).resolve().parent.parent / "docs" / "images" / "report_first_screen.png"
# Where each part of the what-if's lead starts, against the window's height (the first screen).
LEAD_JS = """
const top = el => el ? el.getBoundingClientRect().top + window.scrollY : null;
const heading = Array.from(document.querySelectorAll('h2')).find(h => h.textContent.startsWith('What if:'));
const changed = Array.from(document.querySelectorAll('b')).find(b => b.textContent === 'What changed');
return {
    height: window.innerHeight, page_width: document.documentElement.scrollWidth, window_width: window.innerWidth,
    heading: top(heading), summary: top(document.querySelector('p.summary')), changed: top(changed),
    change: top(document.querySelector('ul.changes li')), fan: top(document.getElementById('year-by-year')),
    base: top(document.getElementById('base')), assumptions: top(document.getElementById('assumptions')),
    summary_text: (document.querySelector('p.summary') || {}).textContent || '',
    change_text: (document.querySelector('ul.changes li') || {}).textContent || ''
};
"""
HAS_TARGET_JS = (
    "return document.getElementById(arguments[0]) !== null || document.getElementsByName(arguments[0]).length > 0;"
)


def _find(candidates: tuple[str, ...]) -> str | None:
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    chromium, chromedriver = _find(CHROMIUM), _find(CHROMEDRIVER)
    if chromium is None or chromedriver is None:
        pytest.skip("no Chromium/ChromeDriver found: install Debian's chromium and chromium-driver to run this test")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in (*BROWSER_ARGUMENTS, f"--user-data-dir={profile}"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        driver.set_page_load_timeout(60)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture(scope="module")
def report_dir(browser: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "comparison"
    command = [
        "compare",
        "scenarios/cheshire_east/baseline.toml",
        "scenarios/cheshire_east/add_two_homes.toml",
        "--replications",
        REPLICATIONS,
        "--sizing-replications",
        "3",
        "--out",
        str(out),
        "--quiet",
    ]
    done = cli_process.run(command, cwd=ROOT, timeout=600)
    assert done.returncode == 0, f"sufficiency compare failed:\n{done.stdout}\n{done.stderr}"
    assert (out / "report.html").is_file()
    return out


def _full_page_png(driver) -> bytes:
    """The whole page, not just the window (Chrome DevTools: capture beyond the viewport)."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return base64.b64decode(shot["data"])


def test_report_renders_every_chart_without_broken_links(browser, report_dir: Path) -> None:
    driver = browser
    driver.get((report_dir / "report.html").resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    assert driver.title.startswith("Comparison"), driver.title

    images = driver.execute_script(IMAGES_JS)
    assert len(images) >= MIN_IMAGES, f"{len(images)} images in the report, expected at least {MIN_IMAGES}"
    broken = [index for index, image in enumerate(images) if not (image["complete"] and image["width"] > 0)]
    assert not broken, f"images that did not load (by position on the page): {broken}"
    assert all(image["inline"] for image in images), "every chart should be embedded (data: URI), not a file"

    links = driver.execute_script(LINKS_JS)
    off_page = [link for link in links if link["href"] is not None and not link["href"].startswith("#")]
    assert not off_page, f"links leading off the page: {off_page}"
    dangling = [
        link
        for link in links
        if link["href"] not in (None, "#") and not driver.execute_script(HAS_TARGET_JS, link["href"][1:])
    ]
    assert not dangling, f"in-page links with no target: {dangling}"

    screenshot = report_dir / "report.png"
    screenshot.write_bytes(_full_page_png(driver))
    data = screenshot.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)


def test_the_first_screen_shows_the_what_ifs_answer_and_what_it_changes(browser, report_dir: Path) -> None:
    """A reader sees, without scrolling, the what-if's summary and the setting it changes; the fan, the base's
    detail and the assumptions come after, in that order, and nothing is wider than the window."""
    driver = browser
    driver.get((report_dir / "report.html").resolve().as_uri())
    lead = driver.execute_script(LEAD_JS)
    assert None not in (lead["heading"], lead["summary"], lead["changed"], lead["change"]), lead
    assert lead["change"] < lead["height"], f"the first change starts at {lead['change']}px, below the first screen"
    assert "placed in-house" in lead["summary_text"] and "net cost" in lead["summary_text"]
    assert lead["change_text"].startswith("pools.inhouse_homes.capacity_changes: none in the base")
    assert lead["heading"] < lead["summary"] < lead["changed"] < lead["fan"] < lead["base"] < lead["assumptions"]
    assert lead["page_width"] <= lead["window_width"], "a table or chart is wider than the window"
    screenshot = report_dir / "first_screen.png"
    driver.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)
    if UPDATE_SCREENSHOTS:
        shutil.copyfile(screenshot, FIRST_SCREEN)
