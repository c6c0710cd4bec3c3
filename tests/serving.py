"""Test helpers for the server: a voice, a real server on 127.0.0.1 (in a thread, a free port),
its responses decoded, and a gate on the decoder to order events without timing."""

from __future__ import annotations

import contextlib
import functools
import io
import socket
import threading
from typing import Iterator

import httpx
import numpy as np
import pytest
import soundfile as sf
import uvicorn

from ttsfw import Pipeline, plugins
from ttsfw.components.tacotron2.layers import Decoder
from ttsfw.settings import ServeSettings

AUDIO_TOLERANCE = 1e-4  # ../shared/golden/README.md: audio (16-bit rounding is 1.5e-5)
#: sentences of one length (36 symbols), each stopping on its own: batched together no row is padded
WORDS = "bird fish tree lamp rain moon star wind rock sand leaf bell coat door gate hill".split()
SAME_LENGTH = [f"Please say the word {word} for me now." for word in WORDS]


@functools.lru_cache(maxsize=None)
def golden_voice(golden, *overrides: str) -> Pipeline:
    """The golden Tacotron2 (rows stop on their own) with the golden small HiFi-GAN (its audio
    follows the mel, and it draws no noise): with prenet dropout off a text's audio depends on
    nothing but the text. Built once per overrides (tests that patch it undo their patches)."""
    from test_hifigan import hifigan_plugin

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TTSFW_PLUGINS", "")
        plugins.reset()
        plugins.get_plugin_manager().register(hifigan_plugin, name="hifigan")
        try:
            return Pipeline.from_overrides([
                f"acoustic.checkpoint={golden / 'tacotron2' / 'ckpt_dle.pt'}", "acoustic.max_decoder_steps=200",
                "vocoder=hifigan_v1", f"vocoder.checkpoint={golden / 'hifigan' / 'resblock1' / 'generator'}",
                "acoustic.prenet_dropout=false", "device.threads=1", "~voice", *overrides,
            ])
        finally:
            plugins.reset()


def settings(**changes) -> ServeSettings:
    values = dict(host="127.0.0.1", port=8000, workers=1, max_batch=8, batch_window_ms=20, max_queue=8,
                  max_chars=300, drain_s=5)
    return ServeSettings(**{**values, **changes})


@contextlib.contextmanager
def running(voice: Pipeline, **changes) -> Iterator[str]:
    """A real server for `voice` on a free port of 127.0.0.1; yields its base URL."""
    from ttsfw.serve.app import create_app

    app = create_app(voice, settings(**changes), "golden")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server did not start")
            thread.join(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def solo(voice: Pipeline, text: str) -> np.ndarray:
    """The text spoken alone (the library's stream), float32 (N,)."""
    return np.concatenate([chunk.audio for chunk in voice.stream(text)])


def decode(data: bytes, fmt: str, samples: int) -> np.ndarray:
    """A response's audio as float (N,); `samples`: how many a FLAC stream should hold."""
    if fmt == "pcm":
        return np.frombuffer(data, "<i2") / 32767
    if fmt == "wav":
        assert data[:4] == b"RIFF" and data[36:40] == b"data"
        return np.frombuffer(data[44:], "<i2") / 32767
    return read_flac_stream(data, samples)


def read_flac_stream(data: bytes, samples: int) -> np.ndarray:
    """A streamed FLAC (its STREAMINFO says 0 = unknown total samples) decoded by libsndfile,
    which cannot read one without its total: `samples` is written in first."""
    assert data[:4] == b"fLaC"
    info = bytearray(data)
    packed = int.from_bytes(info[18:26], "big")  # STREAMINFO bytes 10..17 end in the 36-bit total
    assert packed & (1 << 36) - 1 == 0
    info[18:26] = (packed | samples).to_bytes(8, "big")
    return sf.read(io.BytesIO(bytes(info)), dtype="float64")[0]


def assert_audio(got: np.ndarray, expected: np.ndarray) -> None:
    """`got` is `expected`, within the golden audio tolerance."""
    assert len(got) == len(expected)
    np.testing.assert_allclose(got, expected, atol=AUDIO_TOLERANCE, rtol=0)


def speak(base: str, text: str, fmt: str = "pcm", **fields) -> httpx.Response:
    return httpx.post(f"{base}/v1/audio/speech", json={"input": text, "response_format": fmt, **fields}, timeout=60)


class DecoderGate:
    """Counts Tacotron2 decoder steps; `hold(n)` makes the decoder stop and wait at its n-th
    call of `steps` (0-based) until `release()`; `closed` is set when a call ends. The server's
    warm-up (`Pipeline.warm_up`) decodes uncounted."""

    def __init__(self, monkeypatch):
        self.steps = 0
        self.per_call: dict[int, int] = {}
        self.calls = 0
        self.held_call: int | None = None
        self.released = threading.Event()
        self.waiting = threading.Event()  # the decoder is held
        self.closed = threading.Event()
        original, warm_up = Decoder.steps, Pipeline.warm_up
        warming = threading.Event()

        def steps(decoder, *args, **kwargs):
            if warming.is_set():
                yield from original(decoder, *args, **kwargs)
                return
            call, self.calls = self.calls, self.calls + 1
            try:
                for step in original(decoder, *args, **kwargs):
                    if call == self.held_call and not self.released.is_set():
                        self.waiting.set()
                        assert self.released.wait(60), "the test never released the decoder"
                    self.steps += 1
                    self.per_call[call] = self.per_call.get(call, 0) + 1
                    yield step
            finally:
                self.closed.set()

        def uncounted_warm_up(pipeline, *args):
            warming.set()
            try:
                warm_up(pipeline, *args)
            finally:
                warming.clear()

        monkeypatch.setattr(Decoder, "steps", steps)
        monkeypatch.setattr(Pipeline, "warm_up", uncounted_warm_up)

    def steps_of(self, call: int) -> int:
        return self.per_call.get(call, 0)

    def hold(self, call: int) -> None:
        self.held_call = call

    def release(self) -> None:
        self.released.set()
