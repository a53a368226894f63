"""The captions that make spanned files readable from Discord alone (DESIGN §5).

Version 1, written by Sequenzia: the first line of a part's or header's message content is
machine-readable; anything after it is for people.

    seqz-part/1 file=<id> part=<n>/<count> size=<bytes> xxh3=<32 hex>
    seqz-file/1 file=<id> parts=<count> size=<bytes> xxh3=<32 hex> name=<percent-encoded>

`part` is 1-based in the caption, as people count; `PartCaption.index` is 0-based.

Legacy Kanmi captions, only read (reindexing adopts an existing library): a part carries
`🧩 ID: <id>` and `📦 Part: <n>/<count>` lines; a header `**🧩 File : <id>**` and
`🏷 Name: <name>` lines. They carry no hashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

PART_TAG = "seqz-part/1"
FILE_TAG = "seqz-file/1"

_HEX128 = r"[0-9a-f]{32}"
_FILE_ID = r"[A-Za-z0-9_\-]{1,64}"
_PART_V1 = re.compile(
    rf"^{re.escape(PART_TAG)} file=(?P<file>{_FILE_ID}) part=(?P<n>\d+)/(?P<count>\d+)"
    rf" size=(?P<size>\d+) xxh3=(?P<xxh3>{_HEX128})$"
)
_FILE_V1 = re.compile(
    rf"^{re.escape(FILE_TAG)} file=(?P<file>{_FILE_ID}) parts=(?P<count>\d+) size=(?P<size>\d+)"
    rf" xxh3=(?P<xxh3>{_HEX128}) name=(?P<name>\S+)$"
)
_LEGACY_PART_ID = re.compile(rf"🧩\s*ID:\s*(?P<file>{_FILE_ID})")
_LEGACY_PART_N = re.compile(r"📦\s*Part:\s*(?P<n>\d+)\s*/\s*(?P<count>\d+)")
_LEGACY_FILE_ID = re.compile(rf"\*\*🧩\s*File\s*:\s*(?P<file>{_FILE_ID})\s*\*\*")
_LEGACY_FILE_NAME = re.compile(r"🏷\ufe0f?\s*Name:\s*(?P<name>.+?)\s*$", re.MULTILINE)


class CaptionError(ValueError):
    """A caption that claims to be ours but does not parse; the message says which field."""


@dataclass(frozen=True)
class PartCaption:
    file_id: str
    index: int  # 0-based
    count: int
    size: int | None
    xxh3_128: str | None
    legacy: bool = False


@dataclass(frozen=True)
class HeaderCaption:
    file_id: str
    name: str
    count: int | None
    size: int | None
    xxh3_128: str | None
    legacy: bool = False


def part_caption(file_id: str, index: int, count: int, size: int, xxh3_128: str) -> str:
    """The one-line caption of part `index` (0-based) of `count`."""
    if not 0 <= index < count:
        raise ValueError(f"part index {index} outside 0..{count - 1}")
    caption = f"{PART_TAG} file={file_id} part={index + 1}/{count} size={size} xxh3={xxh3_128}"
    if not _PART_V1.match(caption):
        raise ValueError(f"cannot write a part caption for file id {file_id!r} / hash {xxh3_128!r}")
    return caption


def header_caption(
    file_id: str, name: str, count: int, size: int, xxh3_128: str, note: str = ""
) -> str:
    """The header caption: the machine line, then a line for people, then an optional note."""
    machine = f"{FILE_TAG} file={file_id} parts={count} size={size} xxh3={xxh3_128} name={quote(name, safe='')}"
    if not _FILE_V1.match(machine):
        raise ValueError(
            f"cannot write a header caption for file id {file_id!r} / hash {xxh3_128!r}"
        )
    human = f"📦 {name} ({_human_size(size)}, {count} part{'s' if count != 1 else ''})"
    return "\n".join(x for x in (machine, human, note) if x)


def parse_part(content: str) -> PartCaption | None:
    """The part caption in a message's content, or None when the message is not a part."""
    first = content.split("\n", 1)[0].strip()
    if first.startswith(PART_TAG):
        m = _PART_V1.match(first)
        if not m:
            raise CaptionError(f"malformed part caption: {first[:200]!r}")
        n, count = int(m["n"]), int(m["count"])
        if not 1 <= n <= count:
            raise CaptionError(f"part {n} outside 1..{count} in {first[:200]!r}")
        return PartCaption(m["file"], n - 1, count, int(m["size"]), m["xxh3"])
    ident, number = _LEGACY_PART_ID.search(content), _LEGACY_PART_N.search(content)
    if ident and number and not _LEGACY_FILE_ID.search(content):
        n, count = int(number["n"]), int(number["count"])
        if not 1 <= n <= count:
            raise CaptionError(f"legacy part {n} outside 1..{count}")
        return PartCaption(ident["file"], n - 1, count, None, None, legacy=True)
    return None


def parse_header(content: str) -> HeaderCaption | None:
    """The header caption in a message's content, or None when it is not a header."""
    first = content.split("\n", 1)[0].strip()
    if first.startswith(FILE_TAG):
        m = _FILE_V1.match(first)
        if not m:
            raise CaptionError(f"malformed file header caption: {first[:200]!r}")
        name = unquote(m["name"])
        if not name or "/" in name or "\x00" in name:
            raise CaptionError(f"bad file name in header caption: {name[:200]!r}")
        return HeaderCaption(m["file"], name, int(m["count"]), int(m["size"]), m["xxh3"])
    ident = _LEGACY_FILE_ID.search(content)
    if ident:
        named = _LEGACY_FILE_NAME.search(content)
        name = named["name"] if named else ident["file"]
        return HeaderCaption(ident["file"], name, None, None, None, legacy=True)
    return None


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
