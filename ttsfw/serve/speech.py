"""One request's audio as the event loop reads it: the bridge between a FastAPI handler and
the batcher's worker thread."""

from __future__ import annotations

import asyncio

from ..results import AudioChunk
from .batcher import Batcher, Event, Failure


class SpeechFailed(Exception):
    """The request cannot be spoken; `failure` says why and whose fault it is."""

    def __init__(self, failure: Failure):
        super().__init__(failure.reason)
        self.failure = failure


class ClientGone(Exception):
    """The client disconnected before its audio came."""


class Speech:
    """An admitted request's chunks, in order. `close` it when done: a request still being
    spoken is cancelled, which frees its batch row."""

    def __init__(self, batcher: Batcher, text: str, seed: int | None):
        loop = asyncio.get_running_loop()
        self.events: asyncio.Queue[Event] = asyncio.Queue()  # bounded by the text's audio (max_chars)

        def deliver(event: Event) -> None:  # from the worker thread
            try:
                loop.call_soon_threadsafe(self.events.put_nowait, event)
            except RuntimeError:  # the event loop has closed: nobody is listening
                pass

        self.batcher = batcher
        self.request = batcher.submit(text, seed, deliver)
        self.ended = False

    async def next(self) -> AudioChunk:
        """The next chunk (``final`` on the last); raises SpeechFailed."""
        event = await self.events.get()
        self.ended = isinstance(event, Failure) or event.final
        if isinstance(event, Failure):
            raise SpeechFailed(event)
        return event

    async def next_or_gone(self, receive) -> AudioChunk:
        """`next`, unless the client disconnects first (`receive`: its request's ASGI channel,
        the body already read): then the request is cancelled and ClientGone raised."""
        chunk = asyncio.ensure_future(self.next())
        gone = asyncio.ensure_future(_disconnect(receive))
        try:
            await asyncio.wait({chunk, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            left = not chunk.done()
            if left:
                chunk.cancel()
                self.close()
        if left:
            raise ClientGone()
        return chunk.result()

    def close(self) -> None:
        if not self.ended:
            self.batcher.cancel(self.request)
            self.ended = True


async def _disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
