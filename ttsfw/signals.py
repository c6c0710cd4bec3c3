"""Ending a run cleanly: SIGTERM becomes SystemExit (as Ctrl-C is KeyboardInterrupt), and Ctrl-C
can be held while a file and its record are written together."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def stopped_by_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM (kill, a batch scheduler) raises SystemExit(143), so that an
    ended run still cleans up and writes metrics.json, as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number: int, frame: Any) -> None:
        raise SystemExit(128 + number)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def interrupt_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block has run; raise KeyboardInterrupt then."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
