"""Waiting for what a real worker does, with a deadline and a clear failure."""

from __future__ import annotations

import time


def wait_for(predicate, *, timeout=300.0, interval=0.2, what="condition"):
    """The first truthy value of `predicate()`; AssertionError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
