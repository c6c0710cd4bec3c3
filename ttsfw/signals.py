"""Ending a run cleanly: SIGTERM becomes SystemExit (as Ctrl-C is KeyboardInterrupt), neither is
lost, and both can be held while a file and its record are written together."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Iterator


def _stop(number: int) -> BaseException:
    return KeyboardInterrupt() if number == signal.SIGINT else SystemExit(128 + number)


@contextmanager
def stopped_by_signals() -> Iterator[Callable[[], None]]:
    """Within the block, SIGTERM (kill, a batch scheduler) raises SystemExit(143), so that an
    ended run still cleans up and writes metrics.json, as Ctrl-C (KeyboardInterrupt) does.

    Both are remembered: Python drops an exception raised while a finalizer runs (a signal
    handled inside some object's ``__del__`` prints "Exception ignored" and the run would go
    on), so the block calls the yielded ``check()`` at its safe points (after each file), which
    raises it again. Ctrl-C is taken over only from Python's own handler (not where it is
    ignored, as in a background job, or handled by the caller)."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    received: list[int] = []

    def stop(number: int, frame: Any) -> None:
        received.append(number)
        raise _stop(number)

    def check() -> None:
        if received:
            raise _stop(received[0])

    numbers = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        numbers.append(signal.SIGINT)
    previous = {number: signal.signal(number, stop) for number in numbers}
    try:
        yield check
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM until the block has run, then deliver them again to
    whatever handles them outside it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    numbers = [n for n in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(n) is not None]  # None: set in C
    previous = {number: signal.signal(number, lambda n, frame: received.append(n)) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    for number in dict.fromkeys(received):
        signal.raise_signal(number)
