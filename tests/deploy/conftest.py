"""What the deployment tests share: where deploy/ is, its .env.example parsed, and a clean
environment for the processes they start (never the test run's own DATABASE_URL and friends)."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

# `VAR=value` is in force, `#VAR=value` documents a default (see the file's header).
_VARIABLE = re.compile(r"^(?P<commented>#?)(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


@dataclass(frozen=True)
class EnvEntry:
    name: str
    value: str
    commented: bool
    line: int


def env_file_entries(path: Path) -> list[EnvEntry]:
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = _VARIABLE.match(line)
        if match:
            entries.append(
                EnvEntry(
                    name=match["name"],
                    value=match["value"],
                    commented=bool(match["commented"]),
                    line=number,
                )
            )
    return entries


@pytest.fixture(scope="session")
def env_example() -> list[EnvEntry]:
    return env_file_entries(DEPLOY / ".env.example")


@pytest.fixture
def clean_env(tmp_path):
    """A minimal environment for a child process: PATH, HOME, locale, and nothing of Timbre's."""
    return {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHON": sys.executable,
    }
