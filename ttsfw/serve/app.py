"""The HTTP API (FastAPI): OpenAI's ``POST /v1/audio/speech`` (streamed), Coqui's
``GET /api/tts`` (a WAV file), ``/voices``, ``/health``, ``/metrics``, the web page at ``/``
and the OpenAPI docs (``/docs``, ``/openapi.json``). docs/serving.md describes each.

Errors are JSON in OpenAI's shape, ``{"error": {"message", "type", "param"}}``: 400 for a
bad body or query (naming the field), 413 for a text over ``serve.max_chars``, 503 with
Retry-After when every queue place is taken or the server is draining, 422 for a text with
nothing to speak and 500 when the models fail on it before any audio went out (after that the
stream is cut off: the client sees an incomplete response).
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from contextlib import asynccontextmanager
from importlib import resources
from typing import AsyncIterator, Literal

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field

from ..pipeline import Pipeline
from ..results import AudioChunk
from ..settings import ServeSettings
from .batcher import Batcher, Closed, QueueFull
from .formats import MEDIA_TYPES, StreamEncoder, whole_wav
from .metrics import Metrics
from .speech import ClientGone, Speech, SpeechFailed


class SpeechRequest(BaseModel):
    """OpenAI's speech request. `model` is accepted and ignored (the server speaks with the
    voice it was started with); `voice` defaults to it."""

    model_config = ConfigDict(extra="forbid")

    model: str = "ttsfw"
    input: str = Field(min_length=1)
    voice: str | None = None
    response_format: Literal["wav", "flac", "pcm"] = "wav"
    seed: int | None = Field(default=None, ge=0, lt=2**63)


class ApiError(Exception):
    """An error answer: HTTP status, message, the field it is about, its metric kind."""

    def __init__(self, status: int, message: str, param: str | None, kind: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.kind, self.headers = status, message, param, kind, headers


def error_body(message: str, param: str | None, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": param}}


def create_app(pipeline: Pipeline, settings: ServeSettings, voice: str) -> FastAPI:
    """The app serving `pipeline` as the voice named `voice`, batched as `settings` say."""
    metrics = Metrics()
    sample_rate = pipeline.sample_rate
    draining = threading.Event()

    def on_batch(rows: int) -> None:
        metrics.batch_rows.observe(rows)
        metrics.queue_depth.set(batcher.waiting)

    batcher = Batcher(pipeline, settings.max_batch, settings.batch_window_ms, settings.max_queue, on_batch)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        drain_on_signals(draining)
        yield
        draining.set()
        await asyncio.to_thread(batcher.close)

    app = FastAPI(title="ttsfw", summary="Text to speech, streamed while it is decoded", lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=12 * settings.max_chars + 4096)  # JSON may escape a char in 12 bytes

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        metrics.errors.labels(endpoint(request), exc.kind).inc()
        metrics.requests.labels(endpoint(request), str(exc.status)).inc()
        return JSONResponse(error_body(exc.message, exc.param, exc.kind), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        fields = [str(part) for part in first["loc"][1:] if isinstance(part, str)]
        param = ".".join(fields) or first["loc"][0]  # "body" for JSON that does not parse
        message = "the request body is not valid JSON" if first["type"] == "json_invalid" else first["msg"]
        return await api_error(request, ApiError(400, f"{param}: {message}", param, "invalid_request_error"))

    def admit(text: str, seed: int | None, param: str) -> Speech:
        if len(text) > settings.max_chars:
            raise ApiError(413, f"{param}: {len(text)} characters, more than serve.max_chars={settings.max_chars}",
                           param, "too_large")
        try:
            if draining.is_set():
                raise Closed("the server is shutting down")
            speech = Speech(batcher, text, seed)
        except QueueFull as exc:
            raise ApiError(503, f"the server is busy: {exc}", None, "queue_full", {"Retry-After": "1"}) from None
        except Closed as exc:
            raise ApiError(503, str(exc), None, "draining", {"Retry-After": "1", "Connection": "close"}) from None
        metrics.queue_depth.set(batcher.waiting)
        return speech

    async def next_chunk(speech: Speech, request: Request, param: str) -> AudioChunk:
        """The next chunk before any audio went out: a failure is still an error answer."""
        try:
            return await speech.next_or_gone(request.receive)
        except SpeechFailed as exc:
            status, kind = (422, "unspeakable") if exc.failure.unspeakable else (500, "synthesis")
            raise ApiError(status, f"the text cannot be spoken: {exc}", param, kind) from None
        except ClientGone:  # nobody will read this answer; it is counted
            raise ApiError(499, "the client went away", None, "disconnected") from None

    def check_voice(name: str | None, param: str) -> None:
        if name not in (None, voice):
            raise ApiError(400, f"{param}: unknown voice '{name}'; available: {voice}", param, "invalid_request_error")

    @app.post("/v1/audio/speech", responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}})
    async def speech(body: SpeechRequest, request: Request) -> StreamingResponse:
        """Speak `input`, streaming the audio while it is decoded (16-bit mono at the voice's
        sample rate; pcm is raw little-endian samples)."""
        check_voice(body.voice, "voice")
        started = time.monotonic()
        speech = admit(body.input, body.seed, "input")
        first = await next_chunk(speech, request, "input")
        metrics.ttfa.labels("speech").observe(time.monotonic() - started)
        metrics.requests.labels("speech", "200").inc()
        return StreamingResponse(
            stream(speech, first, body.response_format, started),
            media_type=MEDIA_TYPES[body.response_format],
            headers={"X-Sample-Rate": str(sample_rate)},
        )

    async def stream(speech: Speech, chunk: AudioChunk, fmt: str, started: float) -> AsyncIterator[bytes]:
        encoder, complete = StreamEncoder(fmt, sample_rate), False
        try:
            while True:
                yield encoder.encode(chunk.audio)
                metrics.audio_seconds.inc(len(chunk.audio) / sample_rate)
                if chunk.final:
                    break
                chunk = await speech.next()
            yield encoder.finish()
            complete = True
            metrics.latency.labels("speech").observe(time.monotonic() - started)
        except SpeechFailed:
            metrics.errors.labels("speech", "synthesis").inc()
            raise  # the response is cut off: the client sees it incomplete
        finally:
            if not complete and not speech.ended:
                metrics.errors.labels("speech", "disconnected").inc()
            speech.close()

    @app.get("/api/tts", response_class=Response, responses={200: {"content": {"audio/wav": {}}}})
    async def coqui_tts(
        request: Request, text: str = Query(min_length=1), speaker_id: str | None = None,
        style_wav: str | None = None, language_id: str | None = None,
    ) -> Response:
        """Coqui TTS's endpoint: the whole text as one WAV file (`speaker_id` = the voice;
        `style_wav` and `language_id` are accepted and ignored)."""
        check_voice(speaker_id or None, "speaker_id")
        started = time.monotonic()
        speech = admit(text, None, "text")
        chunk = await next_chunk(speech, request, "text")
        metrics.ttfa.labels("tts").observe(time.monotonic() - started)
        parts = [chunk.audio]
        while not chunk.final:
            chunk = await next_chunk(speech, request, "text")
            parts.append(chunk.audio)
        audio = np.concatenate(parts)
        metrics.audio_seconds.inc(len(audio) / sample_rate)
        metrics.requests.labels("tts", "200").inc()
        metrics.latency.labels("tts").observe(time.monotonic() - started)
        return Response(whole_wav(audio, sample_rate), media_type="audio/wav")

    @app.get("/voices")
    async def voices() -> dict:
        """The voice this server speaks with."""
        return {"voices": [{"name": voice, "sample_rate": sample_rate, "formats": list(MEDIA_TYPES)}]}

    @app.get("/health")
    async def health() -> JSONResponse:
        """200 while the voice is loaded and requests are taken; 503 once draining."""
        if draining.is_set():
            return JSONResponse({"status": "draining"}, 503, headers={"Connection": "close"})
        return JSONResponse({"status": "ok", "voice": voice})

    @app.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text format (docs/serving.md lists the metrics)."""
        metrics.queue_depth.set(batcher.waiting)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    return app


def endpoint(request: Request) -> str:
    return {"/v1/audio/speech": "speech", "/api/tts": "tts"}.get(request.url.path, request.url.path)


def drain_on_signals(draining: threading.Event) -> None:
    """SIGTERM and SIGINT set `draining` (new requests get 503) before the server's own
    handler stops it listening and lets the in-flight requests finish. Signals reach only the
    main thread: a server run in another thread (tests) is stopped by its owner."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(number)

        def handler(sig, frame, previous=previous) -> None:
            draining.set()
            if callable(previous):
                previous(sig, frame)

        signal.signal(number, handler)


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is answered 413 unread."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            body = error_body(f"the request body is over {self.limit} bytes", "body", "too_large")
            return await JSONResponse(body, 413)(scope, receive, send)
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:  # a chunked body has no content-length
                raise ApiError(413, f"the request body is over {self.limit} bytes", "body", "too_large")
            return message

        await self.app(scope, limited, send)
