"""Checking aire's one-line notices (aire.notices: records of the ``aire`` logger) in tests."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

import pytest


def notice_messages(caplog: pytest.LogCaptureFixture, start: int = 0) -> list[str]:
    """The messages aire's loggers recorded since record number `start`."""
    return [r.getMessage() for r in caplog.records[start:] if r.name.split(".")[0] == "aire"]


@contextmanager
def expect_notice(caplog: pytest.LogCaptureFixture, match: str = "") -> Iterator[None]:
    """Assert that the block logs an aire notice matching the regular expression `match`."""
    start = len(caplog.records)
    yield
    messages = notice_messages(caplog, start)
    assert any(re.search(match, m) for m in messages), f"no notice matching {match!r} in {messages}"


@contextmanager
def recorded_notices() -> Iterator[list[str]]:
    """The messages of the aire notices logged in the block (a handler on the ``aire`` logger)."""
    import logging

    messages: list[str] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger, handler = logging.getLogger("aire"), Recorder()
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
