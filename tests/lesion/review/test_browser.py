"""``medsegkit review`` in a real browser: the contact sheet, then keys and clicks on the cases (pick, exclude,
click-to-segment, undo), the files they leave, a second server refused, and a killed server restarted where the
reviewer stopped. ``MEDSEGKIT_SCREENSHOTS=DIR`` keeps the page's screenshots there (docs/review.md shows them)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from medsegkit.lesion.review.run import ReviewRun
from tests.browser import driver

pytestmark = pytest.mark.slow


def start(run: Path) -> tuple[subprocess.Popen, str]:
    """A review server on a free port, in a process of its own; (process, page address)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "300"}
    args = [sys.executable, "-m", "medsegkit", "review", str(run), "--no-open", "--port", "0", "--reviewer", "tester"]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = server.stdout.readline()
    assert " at http://127.0.0.1:" in line, line + server.stderr.read()
    return server, line.split(" at ", 1)[1].split()[0]


def record(run: Path, case: str) -> dict:
    return json.loads((run / "cases" / f"{case}.json").read_text())


def until(condition, seconds: float = 10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the page did not get there in time")


def shoot(browser, name: str) -> None:
    folder = os.environ.get("MEDSEGKIT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / name))


def test_review_in_chromium(run, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    order = ReviewRun(run).order
    browser = driver(tmp_path / "profile")
    server, address = start(run)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "medsegkit", "review", str(run), "--no-open", "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1 and "another medsegkit process" in second.stderr  # one server per run

        browser.get(address)
        until(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        figures = browser.find_elements(By.CSS_SELECTOR, "#grid figure")
        assert [f.text.split(" · ")[0] for f in figures] == order  # least confident first
        shoot(browser, "review-sheet.png")
        keys = ActionChains(browser)
        status = browser.find_element(By.ID, "status")

        keys.send_keys("\n").perform()  # the first case not reviewed
        until(lambda: status.text.startswith(order[0]))
        keys.send_keys("2").perform()  # pick candidate 2; the next case opens
        until(lambda: status.text.startswith(order[1]))
        assert record(run, order[0])["review"]["candidate"] == 2 and record(run, order[0])["reviewer"] == "tester"
        keys.send_keys("x").perform()  # no candidate fits
        until(lambda: status.text.startswith(order[2]))
        assert record(run, order[1])["source"] == "excluded"
        image = browser.find_element(By.ID, "image")
        ActionChains(browser).move_to_element(image).click().perform()  # click-to-segment at the centre
        until(lambda: record(run, order[2]).get("review", {}).get("choice") == "click")
        until(lambda: "from a click" in status.text)
        shoot(browser, "review-case.png")
        keys.send_keys("u").perform()  # undo the click
        until(lambda: "source" not in record(run, order[2]))
        blind = run / "masks-blind" / f"{order[2]}.png"
        assert (run / "masks" / f"{order[2]}.png").read_bytes() == blind.read_bytes()
        counter = browser.find_element(By.ID, "counter")
        until(lambda: counter.text == f"reviewed 1 / {len(order)} · excluded 1")
        shown = browser.execute_script("return window.review.shownMs")
        print(f"next image shown in {np.median(shown):.0f} ms (median of {len(shown)}, max {max(shown):.0f})")
        assert max(shown) < 5000  # a human-speed loop even on a loaded machine (the target, 200 ms, in docs)

        server.send_signal(signal.SIGKILL)  # killed: nothing decided is lost, the lock is stale
        server.wait(timeout=30)
        server, address = start(run)
        browser.get(address)
        until(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        assert browser.find_element(By.ID, "counter").text.startswith(f"reviewed 1 / {len(order)}")
        classes = [f.get_attribute("class") for f in browser.find_elements(By.CSS_SELECTOR, "#grid figure")]
        assert classes[:3] == ["reviewed", "excluded", "blind"]
        logged = [json.loads(line)["action"] for line in (run / "review" / "decisions.jsonl").read_text().splitlines()]
        assert logged == ["candidate", "exclude", "click", "undo"]
    finally:
        browser.quit()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert not list(run.glob(".lock-*"))  # a stopped server leaves no lock
