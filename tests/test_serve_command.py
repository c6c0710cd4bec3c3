"""``python -m ttsfw serve`` as a user runs it, in a subprocess: config errors, SIGTERM draining
and ``--workers``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ttsfw.testing import TINY_TACOTRON2

TWO_SENTENCES = "Please say the word moon for me now. Please say the word star for me now."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: a tiny random Tacotron2 decoding 40 frames a sentence, with Griffin-Lim: quick to load
TINY = [*TINY_TACOTRON2, "acoustic.max_decoder_steps=40", "acoustic.gate_threshold=1.0", "vocoder=griffinlim",
        "vocoder.n_iter=2", "~voice", "device.threads=1"]


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "TTSFW_PLUGINS": ""}
    return subprocess.Popen([sys.executable, "-m", "ttsfw", "serve", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_healthy(process: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + 120  # a guard against a hang, not a timing assert
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server never became healthy")


@pytest.mark.parametrize("override, message", [
    ("serve.port=abc", "serve.port: Value 'abc' of type 'str' could not be converted to Integer"),
    ("serve.max_batch=0", "serve.max_batch must be >= 1, got 0"),
    ("serve.prot=1", "unknown config key or group 'serve.prot'; did you mean 'serve.port'?"),
])
def test_a_bad_setting_is_one_error_line(override, message, capsys):
    from ttsfw.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", override])
    assert exited.value.code == 1 and capsys.readouterr().err.startswith(f"ttsfw: error: {message}")


def test_sigterm_finishes_the_stream_in_flight_and_refuses_new_requests():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(*TINY, f"serve.port={port}", "serve.drain_s=60")
    try:
        wait_healthy(process, base)
        with httpx.stream("POST", f"{base}/v1/audio/speech", json={"input": TWO_SENTENCES, "response_format": "pcm"},
                          timeout=120) as r:
            chunks = r.iter_raw()
            received = len(next(chunks))
            process.send_signal(signal.SIGTERM)
            try:
                refused = httpx.get(f"{base}/health").status_code
            except httpx.ConnectError:
                refused = "connection refused"
            except (httpx.RemoteProtocolError, httpx.ReadError):  # accepted just as uvicorn stopped
                refused = "closed unanswered"  # listening: it closes or resets idle connections unanswered
            received += sum(len(chunk) for chunk in chunks)  # the stream ends whole (else httpx raises)
        assert refused in (503, "connection refused", "closed unanswered")
        assert received == 2 * (2 * 40 * 256 + round(0.2 * 22050))  # two sentences of 40 frames, the pause
        out, _ = process.communicate(timeout=60)
        assert "Application shutdown complete" in out
        assert process.returncode == -signal.SIGTERM  # uvicorn ends by the signal once it has drained
    finally:
        process.kill()
        process.wait()


def test_workers_serve_one_port_and_sum_their_metrics():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(*TINY, f"serve.port={port}", "--workers", "2")
    try:
        wait_healthy(process, base)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        workers = [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) == 2
        for _ in range(4):
            with httpx.Client() as fresh:  # a new connection each: either worker may answer
                assert fresh.post(f"{base}/v1/audio/speech", json={"input": "Hello there."}, timeout=120).status_code == 200
        metrics = httpx.get(f"{base}/metrics").text
        assert 'ttsfw_requests_total{endpoint="speech",status="200"} 4.0' in metrics
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=60)
        finally:
            process.kill()
            process.wait()
