"""Dynamic batching: the requests of many clients spoken as shared Tacotron2 batches.

One worker thread owns the pipeline (the engine is not thread-safe) and warms it up before the
batcher takes requests (`Pipeline.warm_up`: in that thread, since torch work first run in
another thread leaves this one's CPU kernels ~2x slower, measured with int8 Tacotron2 +
HiFi-GAN V2). Each request is a text cut
into pieces (sentences, `Engine.pieces`) spoken one after another; each batch takes the next
piece of up to ``max_batch`` requests, oldest first, once ``batch_window_ms`` has passed since
the oldest of them became ready (or the batch is full, or ``max_batch`` requests are admitted),
and streams every row's chunks to its
own request (`Engine.stream_batch`): a request never gets another's audio. Each row draws
from its own generator, seeded from its request's seed (else the config's ``seed``) and the
sentence number: a seeded request's audio is the same alone or in any batch.

Requests talk to the worker through `deliver` callbacks (from the worker thread) and `cancel`
(from any thread). At most ``max_batch + max_queue`` requests are admitted at once; `submit`
refuses more with `QueueFull`, and every request after `close` with `Closed`. A piece that
fails (NaN, no frames, an exception) fails its request only; the worker never dies.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..engine import Engine
from ..results import AudioChunk, Piece
from ..timing import StageTimer

if TYPE_CHECKING:
    from ..pipeline import Pipeline


@dataclass
class Failure:
    """A request that cannot be spoken (its last event). `unspeakable`: its text has nothing
    the voice can say (the client's error), not a failure of the models."""

    reason: str
    unspeakable: bool = False


#: what a request's `deliver` receives: its next chunk (``final`` on its last), or one Failure
Event = AudioChunk | Failure


class QueueFull(Exception):
    """Every row and queue place is taken: try again later."""


class Closed(Exception):
    """The batcher is draining (shutdown): it takes no new requests."""


@dataclass(eq=False)
class Request:
    """One text being spoken for one client."""

    text: str
    seed: int | None
    deliver: Callable[[Event], None]
    ready_at: float = field(default_factory=time.monotonic)  # when its next piece could start
    pieces: deque[Piece] | None = None  # None until the worker encodes the text
    cancelled: bool = False


class Batcher:
    """The worker thread and its admitted requests (see the module docstring)."""

    def __init__(
        self,
        pipeline: "Pipeline",
        max_batch: int,
        batch_window_ms: float,
        max_queue: int,
        on_batch: Callable[[int], None] = lambda rows: None,
    ):
        self.pipeline = pipeline
        self.engine = Engine(pipeline, pipeline.settings, StageTimer(pipeline.device))
        self.max_batch, self.window, self.max_queue = max_batch, batch_window_ms / 1000, max_queue
        self.on_batch = on_batch
        self._admitted: list[Request] = []  # oldest first
        self._speaking: set[Request] = set()  # those with a row in the batch being decoded
        self._closing = False
        self._changed = threading.Condition()
        self._warm_up_failure: Exception | None = None
        warm = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(warm,), name="ttsfw-batcher", daemon=True)
        self._thread.start()
        warm.wait()
        if self._warm_up_failure is not None:  # a config or model error: fail before listening
            raise self._warm_up_failure

    @property
    def waiting(self) -> int:
        """Admitted requests waiting for a row in a batch (their clients still there)."""
        with self._changed:
            return sum(1 for r in self._admitted if r not in self._speaking and not r.cancelled)

    def submit(self, text: str, seed: int | None, deliver: Callable[[Event], None]) -> Request:
        """Admit a request; its events go to `deliver`, called from the worker thread."""
        with self._changed:
            if self._closing:
                raise Closed("the server is shutting down")
            if len(self._admitted) >= self.max_batch + self.max_queue:
                raise QueueFull(f"all {self.max_batch} batch rows and {self.max_queue} queue places are taken")
            request = Request(text, seed, deliver)
            self._admitted.append(request)
            self._changed.notify()
        return request

    def cancel(self, request: Request) -> None:
        """The client went away: the request gets nothing more and frees its row."""
        with self._changed:
            request.cancelled = True
            self._changed.notify()

    def close(self, timeout: float | None = None) -> None:
        """Refuse new requests, let the admitted ones finish, stop the worker."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._thread.join(timeout)

    def _run(self, warm: threading.Event) -> None:
        try:
            self.pipeline.warm_up()
        except Exception as exc:
            self._warm_up_failure = exc
            return
        finally:
            warm.set()
        while (batch := self._next_batch()) is not None:
            try:
                self._speak(batch)
            except Exception as exc:  # the batch failed as a whole: its requests fail, the worker lives
                for request in batch:
                    self._finish(request, Failure(f"synthesis failed: {type(exc).__name__}: {exc}"))
            finally:
                with self._changed:
                    self._speaking = set()

    def _next_batch(self) -> list[Request] | None:
        """The requests whose next pieces run together (waiting for the window), or None once
        closing with nothing left."""
        with self._changed:
            while True:
                self._admitted = [r for r in self._admitted if not r.cancelled]
                if not self._admitted:
                    if self._closing:
                        return None
                    self._changed.wait()
                    continue
                batch = self._admitted[: self.max_batch]
                wait = batch[0].ready_at + self.window - time.monotonic()
                saturated = len(self._admitted) >= self.max_batch  # waiting would win no row
                if len(batch) == self.max_batch or saturated or wait <= 0 or self._closing:
                    self._speaking = set(batch)
                    return batch
                self._changed.wait(wait)

    def _speak(self, batch: list[Request]) -> None:
        """Speak the next piece of every request in `batch` as one Tacotron2 batch."""
        for request in batch:
            if request.pieces is None:
                request.pieces = deque(self.engine.pieces([request.text], [0]))
            if not request.pieces[0].count:  # nothing speakable: its text is the reason
                self._finish(request, Failure(request.pieces[0].text, unspeakable=True))
        batch = [r for r in batch if r.pieces[0].count]
        if not batch:
            return
        self.on_batch(len(batch))
        cancelled: set[int] = set()
        ended: set[int] = set()
        rows = self.engine.stream_batch([r.pieces[0] for r in batch], cancelled, [r.seed for r in batch])
        for i, event in rows:
            if isinstance(event, str) or event.final:
                ended.add(i)
                self._finish(batch[i], Failure(event) if isinstance(event, str) else event)
            else:
                batch[i].deliver(event)
            cancelled |= {i for i, request in enumerate(batch) if request.cancelled}
        now = time.monotonic()
        for i in set(range(len(batch))) - ended:  # a piece that was not the request's last
            batch[i].pieces.popleft()
            batch[i].ready_at = now

    def _finish(self, request: Request, event: Event) -> None:
        """The request's last event (once): it leaves the admitted requests."""
        with self._changed:
            admitted = request in self._admitted
            if admitted:
                self._admitted.remove(request)
        if admitted and not request.cancelled:
            request.deliver(event)
