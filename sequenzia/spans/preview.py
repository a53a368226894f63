"""Previews for spanned files: a small JPEG attached to the header message.

Images are scaled down with Pillow; videos give a still frame through ffmpeg when it is
installed (none otherwise); other files get none. Blocking: run in a thread.
"""

from __future__ import annotations

import io
import mimetypes
import shutil
import subprocess
from pathlib import Path

from twisted.logger import Logger

log = Logger()

LONG_SIDE = 640
FRAME_AT_S = 1.0


def make_preview(path: Path, name: str) -> bytes | None:
    """A JPEG preview of the file at `path` (named `name`), or None."""
    kind = mimetypes.guess_type(name)[0] or ""
    if kind.startswith("image/"):
        return _image(path)
    if kind.startswith("video/") and shutil.which("ffmpeg"):
        return _video(path)
    return None


def average_colour(data: bytes) -> int | None:
    """An image's average colour as 0xRRGGBB, or None when it is not an image."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (64, 64))  # JPEGs decode small: this is a colour, not a picture
            pixel = image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    if not isinstance(pixel, tuple) or len(pixel) < 3:
        return None
    red, green, blue = (int(v) for v in pixel[:3])
    return (red << 16) | (green << 8) | blue


def _image(path: Path) -> bytes | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.thumbnail((LONG_SIDE, LONG_SIDE))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=85)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        log.warn("no preview for {path}: {error}", path=str(path), error=str(e))
        return None


def _video(path: Path) -> bytes | None:
    """A frame FRAME_AT_S in (past a fade-in), or the first one of a shorter clip."""
    for at in (FRAME_AT_S, 0.0):
        command = [
            "ffmpeg", "-loglevel", "error", "-ss", str(at), "-i", str(path),
            "-frames:v", "1", "-vf", f"scale='min({LONG_SIDE},iw)':-2",
            "-f", "image2pipe", "-vcodec", "mjpeg", "pipe:1",
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            log.warn("no preview for {path}: {error}", path=str(path), error=str(e))
            return None
        if done.returncode == 0 and done.stdout:
            return done.stdout
    return None
