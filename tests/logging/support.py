"""Capturing what the configured log handler writes, in the format production uses."""

from __future__ import annotations

import contextlib
import io
import json
import logging

from config.logs import JsonFormatter, ScrubFilter


def configured_handler() -> logging.Handler:
    """The handler LOGGING put on the root logger (the one carrying the scrubbing filter)."""
    for handler in logging.getLogger().handlers:
        if any(isinstance(f, ScrubFilter) for f in handler.filters):
            return handler
    raise AssertionError("LOGGING configured no handler with the ScrubFilter on the root logger")


@contextlib.contextmanager
def captured_logs(*, fmt: str = "json", level=logging.DEBUG):
    """Everything the configured handler writes while the block runs, at `level`, as JSON lines
    (LOG_FORMAT=json) or plain ones. Yields the buffer; read it with `.getvalue()`."""
    handler = configured_handler()
    buffer = io.StringIO()
    loggers = [logging.getLogger(), logging.getLogger("django")]
    saved_levels = [logger.level for logger in loggers]
    saved_formatter = handler.formatter
    saved_stream = handler.setStream(buffer)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield buffer
    finally:
        handler.setStream(saved_stream)
        handler.setFormatter(saved_formatter)
        for logger, saved in zip(loggers, saved_levels, strict=True):
            logger.setLevel(saved)


def json_lines(buffer: io.StringIO) -> list[dict]:
    """Each line parsed: every line must be one JSON object."""
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
