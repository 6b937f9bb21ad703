"""Fixtures shared by the synthesis tests."""

from tests.synthesis.support import ready_voice  # noqa: F401  (a fixture)
