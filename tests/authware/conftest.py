"""devcord fixtures shared with the AuthWare tests."""

from tests.devcord.conftest import devcord  # noqa: F401 (a fixture)
