"""devcord fixtures shared with the API tests."""

from tests.devcord.conftest import devcord  # noqa: F401 (a fixture)
