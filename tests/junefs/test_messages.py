"""Discord message JSON → what JuneFS stores."""

from __future__ import annotations

from sequenzia.junefs.messages import iso_ms, read_message, snowflake_ms, url_expiry_ms
from sequenzia.spans.captions import header_caption, part_caption

H = "0123456789abcdef0123456789abcdef"


def message(**over):
    base = {
        "id": "1175928715848671232",
        "channel_id": "1175928715848670000",
        "guild_id": "1175928715848600000",
        "author": {"id": "42", "username": "bot"},
        "content": "a photo",
        "timestamp": "2023-11-20T12:00:00.000000+00:00",
        "edited_timestamp": None,
        "pinned": False,
        "attachments": [
            {
                "id": "1175928715848671233",
                "filename": "sunset.jpg",
                "size": 12345,
                "content_type": "image/jpeg",
                "width": 1920,
                "height": 1080,
                "url": "https://cdn.example/attachments/1/2/sunset.jpg?ex=656b1d00&is=6559a880&hm=ab12&",
            }
        ],
    }
    base.update(over)
    return base


def test_snowflakes_and_timestamps() -> None:
    # Discord's documented example: 175928847299117063 → 2016-04-30 11:18:25.796 UTC
    assert snowflake_ms(175928847299117063) == 1462015105796
    assert iso_ms("2016-04-30T11:18:25.796000+00:00") == 1462015105796
    assert iso_ms(None) is None


def test_signed_url_expiry() -> None:
    assert url_expiry_ms("https://cdn/x.png?ex=656b1d00&is=1&hm=2") == 0x656B1D00 * 1000
    assert url_expiry_ms("https://cdn/x.png") is None
    assert url_expiry_ms("https://cdn/x.png?ex=zz") is None


def test_ordinary_message() -> None:
    view = read_message(message())
    assert view.message_id == 1175928715848671232 and view.author_id == 42
    assert view.posted_ts == iso_ms("2023-11-20T12:00:00+00:00")
    a = view.attachment
    assert a is not None and (a.filename, a.size, a.width, a.height) == (
        "sunset.jpg",
        12345,
        1920,
        1080,
    )
    assert a.url_expires_ts == 0x656B1D00 * 1000
    assert view.part is None and view.header is None and view.caption_error is None


def test_parts_and_headers_recognised() -> None:
    view = read_message(message(content=part_caption("ab12", 1, 3, 10, H)))
    assert view.part is not None and view.part.index == 1
    view = read_message(message(content=header_caption("ab12", "big.mkv", 3, 30, H)))
    assert view.header is not None and view.header.name == "big.mkv"
    view = read_message(message(content="seqz-part/1 broken"))
    assert (
        view.part is None and view.caption_error and "malformed part caption" in view.caption_error
    )


def test_minimal_gateway_shape() -> None:
    view = read_message({"id": "175928847299117063", "channel_id": "5", "content": None})
    assert view.posted_ts == 1462015105796 and view.attachments == [] and view.content == ""
