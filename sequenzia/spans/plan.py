"""How a file is cut into parts: part size from the live limits, and each part's byte range."""

from __future__ import annotations

from dataclasses import dataclass

REQUEST_MARGIN = 64 * 1024
"""Room left in a message request for payload_json and the multipart framing."""


def part_size_for(file_limit: int, request_limit: int, configured: int = 0) -> int:
    """The part size to use: the configured one if set, else the largest the limits allow.

    `file_limit` is the guild's per-attachment limit (20 MiB today, more with boosts) and
    `request_limit` the per-request cap (25 MiB today); both come from Discord, never from
    constants in the code. A configured size larger than the limits is lowered to them.
    """
    if file_limit <= 0 or request_limit <= REQUEST_MARGIN:
        raise ValueError(f"unusable upload limits: file {file_limit}, request {request_limit}")
    largest = min(file_limit, request_limit - REQUEST_MARGIN)
    if configured < 0:
        raise ValueError(f"part size must be positive, not {configured}")
    return min(configured, largest) if configured else largest


@dataclass(frozen=True)
class SpanPlan:
    size: int
    part_size: int

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"file size must not be negative, not {self.size}")
        if self.part_size <= 0:
            raise ValueError(f"part size must be positive, not {self.part_size}")

    @property
    def count(self) -> int:
        """Number of parts; an empty file still has one (empty) part."""
        return max(1, -(-self.size // self.part_size))

    @property
    def spanned(self) -> bool:
        """More than one part: stored as parts plus a header, not as one attachment."""
        return self.size > self.part_size

    def part_range(self, index: int) -> tuple[int, int]:
        """(offset, length) of part `index` (0-based)."""
        if not 0 <= index < self.count:
            raise IndexError(f"part index {index} outside 0..{self.count - 1}")
        offset = index * self.part_size
        return offset, min(self.part_size, self.size - offset)
