"""The README's compatible-API section: its examples are valid Python that calls the SDKs the
way the compatibility tests do, and every route its table names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.urls import Resolver404, resolve

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text()
    start = text.index("## OpenAI- and ElevenLabs-compatible endpoints")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_examples_are_python_that_uses_each_sdk():
    blocks = re.findall(r"```python\n(.*?)```", _section(), flags=re.S)
    assert len(blocks) == 2
    calls = []
    for block in blocks:
        tree = ast.parse(block)
        calls += [ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert "client.audio.speech.with_streaming_response.create" in calls
    assert "client.text_to_speech.convert" in calls


def test_every_route_in_the_table_exists():
    table = [line for line in _section().splitlines() if line.startswith("| ") and "/v1/" in line]
    routes = {
        path.replace("{voice_id}", "abc").replace("{id}", "abc")
        for line in table
        for path in re.findall(r"`(?:(?:GET|POST|DELETE) )?(/v1/[^`]*)`", line)
    }
    assert len(routes) >= 10
    missing = []
    for route in routes:
        try:
            resolve(route)
        except Resolver404:
            missing.append(route)
    assert missing == []
