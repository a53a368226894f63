"""The gallery in Chromium at phone and wide sizes, light and dark, and by keyboard alone.

Screenshots go to test-artifacts/ (phone and wide, light and dark).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from sequenzia.spans.hashing import xxh3_128_hex
from tests.gallery.test_browser import png
from tests.gallery.test_e2e import ARTIFACTS
from tests.server.test_upload_crash import call, provisioned_channels, put_parts, start

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
WIDE = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}

# WCAG contrast of an element's text against the backgrounds behind it (composited down to
# the first opaque one; an image under a caption counts as absent), with the opacity of it
# and its ancestors applied to the text colour.
CONTRAST = """
const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
return Array.from(document.querySelectorAll(arguments[0])).filter((e) => e.offsetParent).map((e) => {
  let [r, g, b, a = 1] = parse(getComputedStyle(e).color);
  const layers = [];  // backgrounds from the element down to the first opaque one
  for (let n = e; n; n = n.parentElement) {
    const s = getComputedStyle(n);
    a *= Number(s.opacity);
    const [cr, cg, cb, ca = 1] = parse(s.backgroundColor);
    if (layers.length && layers[layers.length - 1][3] === 1) continue;
    if (ca > 0) layers.push([cr, cg, cb, ca]);
  }
  let bg = [255, 255, 255];
  for (const [lr, lg, lb, la] of layers.reverse()) bg = [lr, lg, lb].map((v, i) => v * la + bg[i] * (1 - la));
  const fg = [r, g, b].map((v, i) => v * a + bg[i] * (1 - a));
  const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return [e.tagName + "." + e.className + ": " + (e.textContent || "").trim().slice(0, 20), (hi + 0.05) / (lo + 0.05)];
});
"""


def upload(api: str, key: str, channel: int, name: str, size: tuple[int, int]) -> int:
    data = png((90, 140, 200), size)
    _, body = call(api, key, "POST", "/uploads", {
        "name": name, "size": len(data), "xxh3_128": xxh3_128_hex(data), "channel_id": channel,
    })  # fmt: skip
    put_parts(api, key, body["upload"], data, range(body["upload"]["part_count"]))
    _, body = call(api, key, "POST", f"/uploads/{body['upload']['id']}/complete?wait=60")
    assert body["upload"]["state"] == "stored", body
    return int(body["upload"]["eid"])


def as_key(base: str, key: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_phone_and_wide_light_and_dark(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    data_dir = tmp_path / "data"
    config = tmp_path / "sequenzia.toml"
    config.write_text("[spans]\npart_size_mib = 1\n")
    server, base, key = start(tmp_path, data_dir, config)
    try:
        api = base + "/api/v1"
        general = next(c for c in provisioned_channels(api, key) if c["name"] == "general")
        wide_eid = upload(api, key, general["id"], "panorama-" + "x" * 80 + ".png", (800, 60))
        for n in range(6):
            upload(api, key, general["id"], f"tile-{n}.png", (60 + 10 * n, 60))
        owner = json.loads((data_dir / "devcord" / "devcord.json").read_text())["owner_user_id"]
        wait = WebDriverWait(browser, 60)
        browser.get(f"{base}/login?devcord_user={owner}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "form.logout"))
        ARTIFACTS.mkdir(exist_ok=True)

        def size(metrics: dict[str, Any], scheme: str) -> None:
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            browser.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
            )

        def overflow(path: str) -> int:
            browser.get(base + path)
            wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
            return int(
                browser.execute_script(
                    "return document.documentElement.scrollWidth - window.innerWidth"
                )
            )

        def folders_shown() -> bool:
            return bool(browser.find_element(By.ID, "folders").is_displayed())

        for scheme in ("light", "dark"):
            size(PHONE, scheme)
            for path in (
                "/gallery", "/gallery?view=files", "/gallery?view=cards", f"/item/{wide_eid}",
                "/albums", "/history", "/settings",
            ):  # fmt: skip
                assert overflow(path) <= 0, f"{path} scrolls sideways on a phone ({scheme})"
            browser.get(base + "/gallery")
            assert browser.execute_script("return window.innerWidth") == 390
            toggle = browser.find_element(By.CSS_SELECTOR, ".folders-toggle")
            assert toggle.is_displayed() and not folders_shown(), "folders fold away on a phone"
            widest = browser.execute_script(
                "return Math.max(...Array.from(document.querySelectorAll('.tile'),"
                " t => t.getBoundingClientRect().right))"
            )
            assert widest <= 390, "no tile sticks out, the panorama included"
            browser.save_screenshot(str(ARTIFACTS / f"gallery-phone-{scheme}.png"))
            toggle.click()
            assert folders_shown() and toggle.get_attribute("aria-expanded") == "true"
            assert "general" in browser.find_element(By.ID, "folders").text
            assert overflow("/gallery?view=files") <= 0

            size(WIDE, scheme)
            browser.get(base + "/gallery")
            assert folders_shown(), "the sidebar shows on a wide screen"
            assert not browser.find_element(By.CSS_SELECTOR, ".folders-toggle").is_displayed()
            browser.save_screenshot(str(ARTIFACTS / f"gallery-wide-{scheme}.png"))
            for selector in ("main a", ".bar a", ".folders a", ".count", "figcaption", "main p"):
                for what, ratio in browser.execute_script(CONTRAST, selector):
                    assert ratio >= 4.5, f"{what} has contrast {ratio:.2f} in {scheme}"
            browser.get(f"{base}/item/{wide_eid}")
            for what, ratio in browser.execute_script(CONTRAST, "dd, dt, .actions a, button"):
                assert ratio >= 4.5, f"{what} has contrast {ratio:.2f} in {scheme}"
        assert server.stop() == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.finish()


def test_keyboard_keys_and_albums_in_the_browser(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    data_dir = tmp_path / "data"
    config = tmp_path / "sequenzia.toml"
    config.write_text("[spans]\npart_size_mib = 1\n")
    server, base, key = start(tmp_path, data_dir, config)
    try:
        api = base + "/api/v1"
        general = next(c for c in provisioned_channels(api, key) if c["name"] == "general")
        eids = [upload(api, key, general["id"], f"k-{n}.png", (64, 64)) for n in range(4)]
        owner = json.loads((data_dir / "devcord" / "devcord.json").read_text())["owner_user_id"]
        wait = WebDriverWait(browser, 60, ignored_exceptions=[StaleElementReferenceException])
        browser.get(f"{base}/login?devcord_user={owner}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "form.logout"))

        def keys(*sent: str) -> None:
            browser.switch_to.active_element.send_keys(*sent)

        def focused_eid() -> str | None:
            return browser.execute_script(  # type: ignore[no-any-return]
                "const t = document.activeElement.closest('.tile'); return t && t.dataset.eid"
            )

        listing = f"{base}/gallery?q=channel:{general['id']}"
        browser.get(listing)
        order = [
            t.get_attribute("data-eid") for t in browser.find_elements(By.CSS_SELECTOR, ".tile")
        ]
        assert order == [str(e) for e in reversed(eids)], "newest first"
        keys(Keys.ARROW_RIGHT)
        assert focused_eid() == order[0], "an arrow key focuses the first tile"
        keys(Keys.ARROW_RIGHT)
        keys(Keys.ARROW_RIGHT)
        assert focused_eid() == order[2]
        keys(Keys.ARROW_LEFT)
        assert focused_eid() == order[1]
        keys(Keys.ENTER)
        wait.until(lambda d: d.current_url.endswith(f"/item/{order[1]}"))

        # on an item: f toggles the favourite, but not while typing in the search box
        search = browser.find_element(By.CSS_SELECTOR, ".search input")
        search.send_keys("f")
        assert search.get_attribute("value") == "f"
        favourite = 'button[data-action="favourite"]'
        assert (
            browser.find_element(By.CSS_SELECTOR, favourite).get_attribute("aria-pressed")
            == "false"
        )
        browser.find_element(By.TAG_NAME, "body").click()
        keys("f")
        wait.until(
            lambda d: (
                d.find_element(By.CSS_SELECTOR, favourite).get_attribute("aria-pressed") == "true"
            )
        )
        keys(Keys.ARROW_RIGHT)
        wait.until(lambda d: d.current_url.endswith(f"/item/{order[2]}"))
        keys(Keys.ESCAPE)
        wait.until(lambda d: d.current_url == listing)
        browser.get(base + "/gallery?fav=1")
        tiles = browser.find_elements(By.CSS_SELECTOR, ".tile")
        assert [t.get_attribute("data-eid") for t in tiles] == [order[1]], "f made it a favourite"

        # albums: create one on its page, add from an item page, share it
        browser.get(base + "/albums")
        browser.find_element(By.CSS_SELECTOR, 'form[data-api] input[name="name"]').send_keys(
            "Keepers\n"
        )
        row = wait.until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "tr[data-album]"))
        )
        album = row.get_attribute("data-album")
        browser.get(f"{base}/item/{order[3]}")
        browser.find_element(By.CSS_SELECTOR, 'button[data-action="album"]').click()
        wait.until(lambda d: "added to Keepers" in d.find_element(By.ID, "status").text)
        browser.get(base + "/albums")
        cells = browser.find_elements(By.CSS_SELECTOR, f'tr[data-album="{album}"] td')
        assert cells[0].text == "Keepers" and cells[1].text == "1"
        browser.find_element(By.XPATH, "//button[text()='Share']").click()
        share = wait.until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "input.share-url"))
        )
        assert share.get_attribute("value").startswith(base + "/gallery?q=album:")
        browser.get(share.get_attribute("value"))
        assert [
            t.get_attribute("data-eid") for t in browser.find_elements(By.CSS_SELECTOR, ".tile")
        ] == [order[3]]

        # settings: a key made here is shown once and works; revoked, it is listed as revoked
        browser.get(base + "/settings")
        browser.find_element(By.CSS_SELECTOR, 'form[data-api] input[name="name"]').send_keys(
            "script"
        )
        browser.find_element(
            By.CSS_SELECTOR, 'form[data-api] select[name="scope"] option[value="write"]'
        ).click()
        browser.find_element(By.XPATH, "//button[text()='Create key']").click()
        secret_box = wait.until(
            expected_conditions.visibility_of_element_located((By.ID, "secret"))
        )
        secret = secret_box.find_element(By.ID, "secret-value").get_attribute("value")
        assert secret.startswith("sqk_")
        status, me = as_key(base, secret, "/api/v1/me")
        assert status == 200 and me["scope"] == "write" and me["via"] == "key"
        browser.get(base + "/settings")
        assert secret not in browser.page_source
        browser.find_element(By.XPATH, "//button[text()='Revoke']").click()
        wait.until(expected_conditions.alert_is_present()).accept()
        wait.until(lambda d: "revoked" in d.find_element(By.CSS_SELECTOR, "table.keys").text)
        assert server.stop() == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.finish()
