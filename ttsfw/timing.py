"""Per-stage wall-clock timing with device synchronisation around each stage."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

from .devices import DeviceBackend


class StageTimer:
    """Accumulates seconds per stage; the device is synchronised on entry and exit so that
    asynchronous backends (cuda, mlu) are timed for the work they actually did."""

    def __init__(self, device: DeviceBackend):
        self.device = device
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.device.synchronize()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.device.synchronize()
            self.seconds[name] += time.perf_counter() - start

    def as_dict(self) -> dict[str, float]:
        return dict(self.seconds)
