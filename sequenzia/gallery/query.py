"""The query language shared by the gallery's URLs, `/api/v1/records` and feeds.

`q` is a search expression:

    sunset beach                 both words (in the text or the file name)
    sunset OR dawn   sunset | dawn
    -draft   !draft              not
    (sunset OR dawn) -draft      parentheses group
    name:IMG_*  text:"two words"  field prefixes: id, eid, text, name, artist, full, in, type, ext
    album:12  album:<share token>  an album of yours, or one shared with you
    name:^IMG   name:.png$       starts with / ends with; * is a wildcard
    in:/devcord/Text Channels/general   in:devcord:/*/general   channel:123   (folder paths,
                                   names or ids, * wildcards, alternatives in quotes "a|b")

Other parameters filter and sort: `days`, `from`, `to`, `media`, `ratio`, `minres`, `fav`, `packed`,
`shown` and `display` (shown on one of your displays, or on the named one; shown=0: never),
`sort` (date, upload, name, ext, size, random, fav), `seed`, `reverse`, `limit`, `cursor`. A value
that cannot be understood is a `QueryError` naming the parameter: never ignored.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from sequenzia.collections.store import DISPLAY_NAME

FIELDS = ("id", "eid", "text", "name", "artist", "full", "in", "channel", "type", "ext", "album")
MEDIA = {
    "image": "COALESCE(r.content_type, '') LIKE 'image/%'",
    "video": "COALESCE(r.content_type, '') LIKE 'video/%'",
    "audio": "COALESCE(r.content_type, '') LIKE 'audio/%'",
    "file": "(r.attachment_name IS NOT NULL OR r.kind = 'spanned')",
    "text": "(r.attachment_name IS NULL AND r.kind = 'message')",
}
RATIOS = {
    "wide": (1.2, None),
    "portrait": (None, 0.9),
    "square": (0.9, 1.1),
    "16:9": (16 / 9 * 0.97, 16 / 9 * 1.03),
    "4:3": (4 / 3 * 0.97, 4 / 3 * 1.03),
    "9:16": (9 / 16 * 0.97, 9 / 16 * 1.03),
}
# NULL-safe, so that a negation (NOT ...) keeps records without a name or a type
NAME = "COALESCE(sf.name, r.attachment_name, '')"
# the average colour's components by bit shifts (MySQL's '/' is not integer division)
# (CAST AS SIGNED: MySQL's bit operations give unsigned numbers, which cannot go negative)
RED = "CAST((r.avg_color >> 16) & 255 AS SIGNED)"
GREEN = "CAST((r.avg_color >> 8) & 255 AS SIGNED)"
BLUE = "CAST(r.avg_color & 255 AS SIGNED)"
# perceived brightness, times 1000 (0 to 255000)
LUMA = f"(299 * {RED} + 587 * {GREEN} + 114 * {BLUE})"
TONES = {"dark": "< 85000", "light": "> 170000"}
TEXT = "COALESCE(r.content, '')"
OFFSET_SORTS = ("name", "ext")  # text keys: pages by position
SORTS = {
    "date": "r.posted_ts",
    "upload": "r.eid",
    "name": f"LOWER({NAME})",
    "ext": f"LOWER(CASE WHEN {NAME} LIKE '%.%' THEN SUBSTRING_INDEX({NAME}, '.', -1) ELSE '' END)",
    "fav": "(SELECT fs.created_ts FROM favourites fs WHERE fs.eid = r.eid AND fs.user_id = ?)",
    "size": "COALESCE(sf.size, r.attachment_size, 0)",
    # Seeded random: every record has a fixed random rand_key (0 to 2**31 - 1); a seed picks
    # where in that order a listing starts, so the order is rand_key rotated by the seed's
    # start point (RANDOM_SPAN wraps it). Any seed pages without repeats and an index on
    # rand_key serves each page; list_records reads the rotation as two rand_key ranges.
    "random": "r.rand_key",
}
RANDOM_SPAN = 2**31


def random_start(seed: int) -> int:
    """Where the seed's random order starts in rand_key: near seeds start far apart."""
    return (seed * 2_654_435_761 + 0x9E3779B9) % RANDOM_SPAN


class QueryError(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


_TOKEN = re.compile(
    r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<or>\|)|(?P<not>[-!])(?=\S)|(?P<word>(?:[a-z]+:)?(?:"[^"]*"|[^\s()|"]+)))',
    re.I,
)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        m = _TOKEN.match(text, position)
        if not m or m.end() == position:
            raise QueryError("q", f"cannot read the search at {text[position : position + 20]!r}")
        position = m.end()
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "word" and value.upper() in ("OR", "AND"):
            kind = value.lower()
        tokens.append((kind, value))
    return tokens


@dataclass
class Compiled:
    """A WHERE fragment with its bound parameters."""

    sql: str
    args: list[Any] = field(default_factory=list)


def _like(value: str) -> str:
    """A user's pattern as a LIKE pattern: * wildcard, ^start, end$; % and _ literal."""
    anchored_start, anchored_end = value.startswith("^"), value.endswith("$") and len(value) > 1
    core = value[1 if anchored_start else 0 : -1 if anchored_end else None]
    # '!' escapes: a backslash means different things in MySQL and SQLite string literals
    core = core.replace("!", "!!").replace("%", "!%").replace("_", "!_").replace("*", "%")
    return ("" if anchored_start else "%") + core + ("" if anchored_end else "%")


class Parser:
    """Recursive descent over the tokens; `resolve_in` turns folder paths into channel ids."""

    def __init__(
        self, tokens: list[tuple[str, str]], resolve_in: Any, resolve_album: Any = None
    ) -> None:
        self.tokens, self.at, self.resolve_in = tokens, 0, resolve_in
        self.resolve_album = resolve_album

    def peek(self) -> str | None:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Compiled:
        if not self.tokens:
            return Compiled("1 = 1")
        compiled = self.or_expr()
        if self.at != len(self.tokens):
            raise QueryError("q", f"unexpected {self.tokens[self.at][1]!r}")
        return compiled

    def or_expr(self) -> Compiled:
        parts = [self.and_expr()]
        while self.peek() == "or":
            self.take()
            if self.peek() in (None, "rp", "or"):
                raise QueryError("q", "OR needs something on both sides")
            parts.append(self.and_expr())
        return _join(" OR ", parts)

    def and_expr(self) -> Compiled:
        parts = [self.unary()]
        while self.peek() not in (None, "rp", "or"):
            if self.peek() == "and":
                self.take()
            parts.append(self.unary())
        return _join(" AND ", parts)

    def unary(self) -> Compiled:
        kind = self.peek()
        if kind is None:
            raise QueryError("q", "the search ends too early")
        if kind == "not":
            self.take()
            inner = self.unary()
            return Compiled(f"NOT ({inner.sql})", inner.args)
        if kind == "lp":
            self.take()
            inner = self.or_expr()
            if self.peek() != "rp":
                raise QueryError("q", "a '(' is never closed")
            self.take()
            return Compiled(f"({inner.sql})", inner.args)
        if kind in ("rp", "and", "or"):
            raise QueryError("q", f"unexpected {self.tokens[self.at][1]!r}")
        return self.term(self.take()[1])

    def term(self, word: str) -> Compiled:
        name, sep, value = word.partition(":")
        if not sep or name.lower() not in FIELDS:
            name, value = "", word
        name = name.lower()
        value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
        if value == "":
            raise QueryError("q", f"'{name}:' needs a value")
        if name == "":
            pattern = _like(value)
            return Compiled(
                f"({TEXT} LIKE ? ESCAPE '!' OR {NAME} LIKE ? ESCAPE '!')", [pattern, pattern]
            )
        if name in ("text", "artist"):
            return Compiled(f"{TEXT} LIKE ? ESCAPE '!'", [_like(value)])
        if name == "name":
            return Compiled(f"{NAME} LIKE ? ESCAPE '!'", [_like(value)])
        if name == "full":
            return Compiled(f"{TEXT} = ?", [value])
        if name == "ext":
            return Compiled(
                f"{NAME} LIKE ? ESCAPE '!'",
                ["%." + value.lstrip(".").replace("!", "!!").replace("%", "!%").replace("_", "!_")],
            )
        if name == "type":
            if value not in MEDIA:
                raise QueryError("q", f"type: is one of {', '.join(MEDIA)}, not {value!r}")
            return Compiled(MEDIA[value])
        if name in ("id", "eid", "channel"):
            if not value.isdigit():
                raise QueryError("q", f"{name}: takes a number, not {value!r}")
            column = {"id": "r.message_id", "eid": "r.eid", "channel": "r.channel_id"}[name]
            return Compiled(f"{column} = ?", [int(value)])
        if name == "album":
            album_id = self.resolve_album(value) if self.resolve_album else None
            if album_id is None:
                raise QueryError("q", f"album:{value} is not an album of yours or shared with you")
            return Compiled(
                "r.eid IN (SELECT ai.eid FROM album_items ai WHERE ai.album_id = ?)", [album_id]
            )
        channels = self.resolve_in(value)  # in:
        if not channels:
            return Compiled("1 = 0")
        return Compiled(f"r.channel_id IN ({', '.join('?' for _ in channels)})", list(channels))


def _join(glue: str, parts: list[Compiled]) -> Compiled:
    if len(parts) == 1:
        return parts[0]
    return Compiled(glue.join(f"({p.sql})" for p in parts), [a for p in parts for a in p.args])


def match_folder(path: str, channels: list[dict[str, Any]]) -> set[int]:
    """Channel ids a folder path names: SERVER:/CLASS/CHANNEL or /SERVER/CLASS/CHANNEL.

    Each segment is a name or id, with * wildcards and a|b alternatives; CLASS is the
    channel's category; a shorter path names everything below it.
    """
    if ":" in path.split("/", 1)[0]:
        server, _, rest = path.partition(":")
        segments = [server, *[s for s in rest.split("/") if s]]
    else:
        segments = [s for s in path.split("/") if s]
    if not segments or len(segments) > 3:
        raise QueryError(
            "q", f"in: takes SERVER:/CLASS/CHANNEL or /SERVER/CLASS/CHANNEL, not {path!r}"
        )

    def fits(pattern: str, name: str, ident: Any) -> bool:
        for alternative in pattern.split("|"):
            regex = "^" + ".*".join(re.escape(p) for p in alternative.split("*")) + "$"
            if re.match(regex, str(name), re.I) or alternative == str(ident):
                return True
        return False

    by_id = {int(c["id"]): c for c in channels}
    found = set()
    for c in channels:
        if c["kind"] not in ("text", "news", "thread"):
            continue
        parent = by_id.get(int(c["parent_id"])) if c.get("parent_id") else None
        chain = [
            (c["server_name"], c["server_id"]),
            (parent["name"] if parent else "", c.get("parent_id")),
            (c["name"], c["id"]),
        ]
        if all(fits(segment, *chain[i]) for i, segment in enumerate(segments)):
            found.add(int(c["id"]))
    return found


@dataclass
class RecordQuery:
    where: Compiled
    order: str
    order_args: list[Any]
    reverse: bool
    limit: int
    cursor: (
        tuple[int, int] | None
    )  # (key, eid) after which the page starts; or (-1, offset) for name sorts
    sort: str
    seed: int


def _int_param(
    params: dict[str, str], name: str, low: int, high: int, default: int | None = None
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise QueryError(name, f"must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)


def _date_ms(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return int(time.mktime(time.strptime(raw, "%Y-%m-%d")) * 1000)
    except ValueError:
        raise QueryError(name, f"must be a date like 2026-11-28, not {raw!r}") from None


def build(
    params: dict[str, str],
    resolve_in: Any,
    now_ms: int,
    user_id: int,
    resolve_album: Any = None,
    nsfw: bool = False,
    cached: frozenset[str] = frozenset(),
) -> RecordQuery:
    """The parameters of a gallery URL or API call as one query; QueryError if malformed.

    `cached` holds the ids of the spanned files the CDS has assembled (for `packed`).
    """
    known = {
        "q",
        "days",
        "from",
        "to",
        "media",
        "ratio",
        "minres",
        "fav",
        "sort",
        "seed",
        "reverse",
        "limit",
        "cursor",
        "view",
        "tone",
        "colour",
        "near",
        "packed",
        "shown",
        "display",
    }
    unknown = sorted(set(params) - known)
    if unknown:
        raise QueryError(unknown[0], f"is not a parameter; known: {', '.join(sorted(known))}")
    parts = [
        Parser(tokenize(params.get("q", "")), resolve_in, resolve_album).parse(),
        Compiled("r.kind <> 'part'"),
    ]
    days = _int_param(params, "days", 1, 100_000)
    if days is not None:
        parts.append(Compiled("r.posted_ts >= ?", [now_ms - days * 86_400_000]))
    start, end = _date_ms(params, "from"), _date_ms(params, "to")
    if start is not None:
        parts.append(Compiled("r.posted_ts >= ?", [start]))
    if end is not None:
        parts.append(Compiled("r.posted_ts < ?", [end + 86_400_000]))
    media = params.get("media")
    if media:
        if media not in MEDIA:
            raise QueryError("media", f"is one of {', '.join(MEDIA)}, not {media!r}")
        parts.append(Compiled(MEDIA[media]))
    ratio = params.get("ratio")
    if ratio:
        if ratio in RATIOS:
            low, high = RATIOS[ratio]
        else:
            m = re.fullmatch(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)", ratio)
            if not m or float(m[1]) > float(m[2]):
                raise QueryError(
                    "ratio", f"is one of {', '.join(RATIOS)} or a range like 1.2-2.0, not {ratio!r}"
                )
            low, high = float(m[1]), float(m[2])
        parts.append(Compiled("r.width > 0 AND r.height > 0"))
        if low is not None:
            parts.append(Compiled("r.width >= r.height * ?", [low]))
        if high is not None:
            parts.append(Compiled("r.width <= r.height * ?", [high]))
    minres = _int_param(params, "minres", 1, 1_000_000)
    if minres is not None:
        parts.append(Compiled("(r.width >= ? OR r.height >= ?)", [minres, minres]))
    if not nsfw:
        parts.append(
            Compiled(
                "NOT EXISTS (SELECT 1 FROM channels nc WHERE nc.id = r.channel_id AND nc.nsfw = 1)"
            )
        )
    tone = params.get("tone")
    if tone:
        if tone not in TONES:
            raise QueryError("tone", f"is dark or light, not {tone!r}")
        parts.append(Compiled(f"r.avg_color >= 0 AND {LUMA} {TONES[tone]}"))
    colour = params.get("colour")
    if colour:
        if not re.fullmatch(r"#?[0-9a-fA-F]{6}", colour):
            raise QueryError("colour", f"is a colour like 3a7bd5, not {colour!r}")
        value = int(colour.lstrip("#"), 16)
        near = _int_param(params, "near", 0, 442, 60) or 0
        red, green, blue = value >> 16, (value >> 8) & 255, value & 255
        parts.append(
            Compiled(
                f"r.avg_color >= 0 AND ({RED} - ?) * ({RED} - ?)"
                f" + ({GREEN} - ?) * ({GREEN} - ?) + ({BLUE} - ?) * ({BLUE} - ?) <= ?",
                [red, red, green, green, blue, blue, near * near],
            )
        )
    elif params.get("near"):
        raise QueryError("near", "goes with colour=")
    fav = params.get("fav")
    if fav not in (None, "", "1", "0"):
        raise QueryError("fav", f"is 1 (favourites only) or 0 (not favourites), not {fav!r}")
    if fav:
        exists = "EXISTS (SELECT 1 FROM favourites f WHERE f.eid = r.eid AND f.user_id = ?)"
        parts.append(Compiled(exists if fav == "1" else f"NOT {exists}", [user_id]))
    packed = params.get("packed")
    if packed not in (None, "", "1", "0"):
        raise QueryError(
            "packed", f"is 1 (spanned files still in parts) or 0 (assembled), not {packed!r}"
        )
    if packed:
        ids = sorted(cached)
        within = f"r.file_id IN ({', '.join('?' for _ in ids)})" if ids else "1 = 0"
        parts.append(
            Compiled(f"r.kind = 'spanned' AND {'NOT ' if packed == '1' else ''}({within})", ids)
        )
    shown, display = params.get("shown"), params.get("display")
    if shown not in (None, "", "1", "0"):
        raise QueryError("shown", f"is 1 (shown on a display) or 0 (never shown), not {shown!r}")
    if display and not DISPLAY_NAME.fullmatch(display):
        raise QueryError(
            "display", f"is a display's name (letters, digits, ' ._-'), not {display!r}"
        )
    if shown or display:
        exists = "EXISTS (SELECT 1 FROM display_history d WHERE d.eid = r.eid AND d.user_id = ?"
        exists += " AND d.display = ?)" if display else ")"
        args = [user_id, display] if display else [user_id]
        parts.append(Compiled(f"NOT {exists}" if shown == "0" else exists, args))
    sort = params.get("sort") or "date"
    if sort not in SORTS:
        raise QueryError("sort", f"is one of {', '.join(SORTS)}, not {sort!r}")
    if sort == "fav":
        if fav == "0":
            raise QueryError(
                "sort", "fav orders favourites by when they were chosen; not with fav=0"
            )
        if fav != "1":
            exists = "EXISTS (SELECT 1 FROM favourites f WHERE f.eid = r.eid AND f.user_id = ?)"
            parts.append(Compiled(exists, [user_id]))
    seed = _int_param(params, "seed", 0, 2**31 - 1, 0) or 0
    reverse = params.get("reverse") in ("1", "true")
    if params.get("reverse") not in (None, "", "0", "1", "true", "false"):
        raise QueryError("reverse", "is 1 or 0")
    limit = _int_param(params, "limit", 1, 500, 60) or 60
    cursor = None
    raw_cursor = params.get("cursor")
    if raw_cursor:
        if sort in OFFSET_SORTS:
            m = re.fullmatch(r"o(\d+)", raw_cursor)
            cursor = (-1, int(m[1])) if m else None
        else:
            m = re.fullmatch(r"(-?\d+)\.(\d+)", raw_cursor)
            cursor = (int(m[1]), int(m[2])) if m else None
            if cursor and sort == "random" and not 0 <= cursor[0] < RANDOM_SPAN:
                cursor = None
        if cursor is None:
            raise QueryError("cursor", "is the 'next' value of a previous page of this sort")
    order_args = [user_id] if sort == "fav" else []
    return RecordQuery(
        _join(" AND ", parts), SORTS[sort], order_args, reverse, limit, cursor, sort, seed
    )
