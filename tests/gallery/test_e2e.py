"""End to end in Chromium driven by Selenium: log in, upload by drag and drop, move, delete, log out.

A screenshot of the gallery is kept in test-artifacts/gallery.png.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from tests.server.test_upload_crash import call, provisioned_channels, start

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


DROP = """
const [zone, input] = arguments;
const files = new DataTransfer();
for (const file of input.files) files.items.add(file);
zone.dispatchEvent(new DragEvent("drop", {dataTransfer: files, bubbles: true, cancelable: true}));
"""


def test_upload_by_drag_and_drop_move_delete_log_out(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    data_dir = tmp_path / "data"
    config = tmp_path / "sequenzia.toml"
    config.write_text("[spans]\npart_size_mib = 1\n")
    server, base, key = start(tmp_path, data_dir, config)
    try:
        api = base + "/api/v1"
        channels = provisioned_channels(api, key)
        general = next(c for c in channels if c["name"] == "general")
        archive = next(c for c in channels if c["name"] == "archive")
        owner = json.loads((data_dir / "devcord" / "devcord.json").read_text())["owner_user_id"]
        picture = tmp_path / "sunset <b>&.png"
        out = io.BytesIO()
        Image.new("RGB", (80, 60), (250, 120, 30)).save(out, format="PNG")
        picture.write_bytes(out.getvalue())
        wait = WebDriverWait(browser, 60)

        browser.get(f"{base}/login?devcord_user={owner}")
        wait.until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "form.logout"))
        )

        browser.get(f"{base}/gallery?q=channel:{general['id']}")
        zone = wait.until(expected_conditions.presence_of_element_located((By.ID, "drop")))
        staged = browser.execute_script(
            "const i = document.createElement('input'); i.type = 'file'; i.id = 'staged';"
            " i.style.display = 'none'; document.body.appendChild(i); return i;"
        )
        staged.send_keys(str(picture))
        browser.execute_script(DROP, zone, staged)
        wait.until(
            lambda d: (
                d.find_element(By.CSS_SELECTOR, "#uploads li .state").text in ("done",)
                or "failed" in d.find_element(By.CSS_SELECTOR, "#uploads li .state").text
            )
        )
        row = browser.find_element(By.CSS_SELECTOR, "#uploads li")
        assert row.find_element(By.CSS_SELECTOR, ".state").text == "done", row.text
        assert row.find_element(By.CSS_SELECTOR, ".name").text == picture.name, (
            "the name is shown as text"
        )
        eid = row.get_attribute("data-eid")
        ARTIFACTS.mkdir(exist_ok=True)
        browser.get(f"{base}/gallery?q=channel:{general['id']}")
        wait.until(
            expected_conditions.presence_of_element_located(
                (By.CSS_SELECTOR, f'[data-eid="{eid}"] img')
            )
        )
        browser.save_screenshot(str(ARTIFACTS / "gallery.png"))
        assert not browser.find_elements(By.TAG_NAME, "b"), "a file name never becomes markup"

        browser.get(f"{base}/item/{eid}")
        Select(
            wait.until(expected_conditions.presence_of_element_located((By.ID, "move-target")))
        ).select_by_value(str(archive["id"]))
        browser.find_element(By.CSS_SELECTOR, 'button[data-action="move"]').click()
        wait.until(lambda d: "archive" in d.find_element(By.CSS_SELECTOR, ".details").text)
        status, record = call(api, key, "GET", f"/records/{eid}")
        assert record["record"]["channel_id"] == archive["id"], "moved, and the eid stayed"

        seen = browser.execute_async_script(
            "const done = arguments[0];"
            " fetch('/api/v1/history', {credentials: 'same-origin'}).then(r => r.json()).then(done);"
        )
        assert int(eid) in [entry["eid"] for entry in seen["history"]], (
            "the item view is in the history"
        )

        browser.find_element(By.CSS_SELECTOR, 'button[data-action="delete"]').click()
        wait.until(expected_conditions.alert_is_present()).accept()
        wait.until(lambda d: d.current_url.endswith("/gallery"))
        status, _ = call(api, key, "GET", f"/records/{eid}")
        assert status == 404

        browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
        wait.until(
            expected_conditions.presence_of_element_located((By.LINK_TEXT, "Log in with Discord"))
        )
        assert server.stop() == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.finish()
