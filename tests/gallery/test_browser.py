"""The gallery in a real headless Chromium: log in with (dev)Discord, browse, search, open an item."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from PIL import Image

from sequenzia.spans.hashing import xxh3_128_hex
from tests.server.test_upload_crash import call, provisioned_channels, put_parts, start
from tests.services import require_program

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def png(colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def dom(chromium: str, profile: Path, url: str) -> str:
    """The page's DOM after redirects and scripts, in a browser profile that keeps cookies."""
    done = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_log_in_browse_search_and_open_an_item(tmp_path: Path) -> None:
    chromium = require_program("chromium", "Chromium")
    data_dir = tmp_path / "data"
    config = tmp_path / "sequenzia.toml"
    config.write_text("[spans]\npart_size_mib = 1\n")
    server, base, key = start(tmp_path, data_dir, config)
    try:
        api = base + "/api/v1"
        channels = provisioned_channels(api, key)
        general = next(c for c in channels if c["name"] == "general")
        eids = {}
        for name, colour, size in [
            ("cat-on-sofa.png", (200, 80, 40), (64, 48)),
            ("dog.png", (40, 80, 200), (48, 64)),
        ]:
            data = png(colour, size)
            _, body = call(
                api,
                key,
                "POST",
                "/uploads",
                {
                    "name": name,
                    "size": len(data),
                    "xxh3_128": xxh3_128_hex(data),
                    "channel_id": general["id"],
                },
            )
            upload = body["upload"]
            put_parts(api, key, upload, data, range(upload["part_count"]))
            status, body = call(api, key, "POST", f"/uploads/{upload['id']}/complete?wait=60")
            assert body["upload"]["state"] == "stored", body
            eids[name] = body["upload"]["eid"]
        info = (data_dir / "devcord" / "devcord.json").read_text()
        owner = json.loads(info)["owner_user_id"]
        profile = tmp_path / "chromium-profile"

        signed_out = dom(chromium, profile, base + "/")
        assert "Log in with Discord" in signed_out

        home = dom(
            chromium, profile, f"{base}/login?devcord_user={owner}"
        )  # devcord approves at once
        assert "Log out" in home and "owner" in home, home[:2000]
        for eid in eids.values():
            assert f'data-eid="{eid}"' in home
        assert "general" in home, "the sidebar shows the channel folders"

        found = dom(chromium, profile, base + "/gallery?q=name:cat*")
        assert f'data-eid="{eids["cat-on-sofa.png"]}"' in found
        assert f'data-eid="{eids["dog.png"]}"' not in found
        bad = dom(chromium, profile, base + "/gallery?days=soon")
        assert (
            "The &#39;days&#39; in this address must be a whole number" in bad
            or "The 'days' in this address" in bad
        )

        item = dom(chromium, profile, f"{base}/item/{eids['dog.png']}")
        assert "dog.png" in item and "48 × 64" in item and "Download" in item
        assert f'src="/f/{eids["dog.png"]}/dog.png"' in item
        files = dom(chromium, profile, base + "/gallery?view=files")
        assert "cat-on-sofa.png" in files and "single" in files
        assert server.stop() == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.finish()
