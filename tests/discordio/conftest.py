"""devcord fixtures shared with the Discord I/O tests."""

from tests.devcord.conftest import devcord  # noqa: F401 (a fixture)
