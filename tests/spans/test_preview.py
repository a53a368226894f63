"""Previews: a scaled JPEG for images, a still frame for videos (through ffmpeg)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from PIL import Image

from sequenzia.spans.preview import LONG_SIDE, make_preview
from tests.services import require_program


def _video(path: Path, seconds: float) -> Path:
    ffmpeg = require_program("ffmpeg")
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i",
         f"testsrc=duration={seconds}:size=1280x720:rate=25", "-c:v", "mpeg4", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def test_a_video_gives_a_still_frame_scaled_down(tmp_path: Path) -> None:
    for seconds in (3, 0.4):  # a clip shorter than the usual moment gives its first frame
        clip = _video(tmp_path / f"clip-{seconds}.mp4", seconds)
        preview = make_preview(clip, "holiday.mp4")
        assert preview is not None, seconds
        with Image.open(io.BytesIO(preview)) as image:
            assert image.format == "JPEG" and image.size == (LONG_SIDE, 360)


def test_images_scale_and_other_files_have_none(tmp_path: Path) -> None:
    picture = tmp_path / "big.png"
    Image.new("RGB", (2000, 1000), (10, 200, 30)).save(picture)
    preview = make_preview(picture, "big.png")
    assert preview is not None
    with Image.open(io.BytesIO(preview)) as image:
        assert image.size == (LONG_SIDE, 320)
    (tmp_path / "notes.txt").write_text("words")
    assert make_preview(tmp_path / "notes.txt", "notes.txt") is None
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert make_preview(broken, "broken.mp4") is None
