"""Chromium for the tests that need a real browser: Debian's packages (``apt-get install chromium chromium-driver``,
which ``.ci/run`` runs where they are missing), driven by Selenium through Debian's ChromeDriver; nothing is
downloaded. Without them those tests skip with one line saying how to get them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

INSTALL = "no Chromium here: apt-get install chromium chromium-driver (as .ci/run does)"
# headless, and none of the background connections a closed network refuses by the dozen
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1400,1000",
)


def chromium() -> str:
    """The Chromium binary, or a skip."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(INSTALL)
    return found


def driver(profile: Path):
    """A Selenium driver of the installed Chromium with a fresh profile in ``profile``, or a skip."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    from selenium.webdriver.chrome.service import Service

    binary, chromedriver = chromium(), shutil.which("chromedriver")
    if chromedriver is None:
        pytest.skip(INSTALL)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
