"""Fixtures shared by the test modules."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """gRPC tests run late and fleet tests last: a gRPC channel or server (ours, or
    Ray's when connecting to it) leaves gRPC's threads in this process, after which
    every local benchmark would start copies in fresh interpreters instead of forking
    them."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("fleet") is not None,
            item.get_closest_marker("grpc") is not None,
        )
    )


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt during the test, as in an interactive shell.

    A suite started in the background (``nohup python -m pytest &``) inherits SIGINT
    ignored, and Python then leaves it ignored: a test that interrupts itself with
    SIGINT would wait for its whole duration.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
