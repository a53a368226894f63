"""A headless Chromium driven by Selenium, for the gallery's browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services import require_program


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    chromium = require_program("chromium", "Chromium")
    driver_path = require_program("chromedriver", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
