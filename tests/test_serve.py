"""The server (python -m ttsfw serve) over real HTTP on 127.0.0.1: each endpoint and error,
streaming before the text is done, dynamic batching (each response its own rows), seeds,
disconnects, failures in a batch, metrics and a bounded load test. Events are ordered with a
gate on the decoder, never with timing."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import soundfile as sf
import torch

from serving import SAME_LENGTH, WORDS, DecoderGate, assert_audio, decode, golden_voice, running, solo, speak

pytestmark = [pytest.mark.filterwarnings("ignore:.*max_decoder_steps"),
              pytest.mark.filterwarnings("ignore:.*dropping what cannot be spoken")]
TWO_SENTENCES = "Say the word bird. Then say the word fish, and stop."


@pytest.fixture(scope="module")
def voice(golden):
    return golden_voice(golden)


@pytest.fixture(scope="module")
def server(voice):
    with running(voice) as base:
        yield base


@pytest.fixture(scope="module")
def spoken(voice):
    """Each text's audio spoken alone, computed once."""
    cache: dict[str, np.ndarray] = {}
    return lambda text: cache[text] if text in cache else cache.setdefault(text, solo(voice, text))


def test_health_and_voices(server, voice):
    assert httpx.get(f"{server}/health").json() == {"status": "ok", "voice": "golden"}
    assert httpx.get(f"{server}/voices").json() == {
        "voices": [{"name": "golden", "sample_rate": 22050, "formats": ["wav", "flac", "pcm"]}]
    }
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert {"/v1/audio/speech", "/api/tts", "/voices", "/health", "/metrics"} <= set(paths)


@pytest.mark.parametrize("fmt, media", [("wav", "audio/wav"), ("flac", "audio/flac"), ("pcm", "audio/pcm")])
def test_speech_streams_the_text_in_each_format(server, spoken, fmt, media):
    expected = spoken(TWO_SENTENCES)
    with httpx.stream("POST", f"{server}/v1/audio/speech", json={"model": "tts-1", "input": TWO_SENTENCES,
                                                                 "voice": "golden", "response_format": fmt}) as r:
        assert r.status_code == 200 and r.headers["content-type"] == media
        assert r.headers["transfer-encoding"] == "chunked" and r.headers["x-sample-rate"] == "22050"
        parts = list(r.iter_raw())
    assert len(parts) > 2  # streamed in pieces
    assert_audio(decode(b"".join(parts), fmt, len(expected)), expected)


def test_coqui_endpoint_returns_a_whole_wav_file(server, spoken):
    r = httpx.get(f"{server}/api/tts", params={"text": TWO_SENTENCES, "speaker_id": "golden"}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(r.content))
    assert rate == 22050
    assert_audio(audio, spoken(TWO_SENTENCES))


BAD_REQUESTS = [
    (b'{"input": "Hello.", ', 400, "body", "not valid JSON"),
    ({"response_format": "pcm"}, 400, "input", "Field required"),
    ({"input": ""}, 400, "input", "at least 1 character"),
    ({"input": 5}, 400, "input", "valid string"),
    ({"input": "Hello.", "voice": "alloy"}, 400, "voice", "unknown voice 'alloy'; available: golden"),
    ({"input": "Hello.", "response_format": "mp3"}, 400, "response_format", "'wav', 'flac' or 'pcm'"),
    ({"input": "Hello.", "seed": -1}, 400, "seed", "greater than or equal to 0"),
    ({"input": "Hello.", "speed": 1.5}, 400, "speed", "Extra inputs are not permitted"),
    ({"input": "x" * 301}, 413, "input", "301 characters, more than serve.max_chars=300"),
    ({"input": "\u2603\u2603\u2603"}, 422, "input", "has nothing to speak"),
]


@pytest.mark.parametrize("body, status, param, message", BAD_REQUESTS)
def test_a_bad_speech_request_is_a_json_error_naming_the_field(server, body, status, param, message):
    if isinstance(body, bytes):
        r = httpx.post(f"{server}/v1/audio/speech", content=body, headers={"content-type": "application/json"})
    else:
        r = httpx.post(f"{server}/v1/audio/speech", json=body)
    assert r.status_code == status
    error = r.json()["error"]
    assert error["param"] == param and message in error["message"]


@pytest.mark.parametrize("params, status, param", [
    ({}, 400, "text"), ({"text": "Hello.", "speaker_id": "alloy"}, 400, "speaker_id"), ({"text": "y" * 301}, 413, "text"),
])
def test_a_bad_coqui_request_is_a_json_error_naming_the_field(server, params, status, param):
    r = httpx.get(f"{server}/api/tts", params=params)
    assert r.status_code == status and r.json()["error"]["param"] == param


def test_a_body_over_the_limit_is_refused_unread(server):
    r = httpx.post(f"{server}/v1/audio/speech", content=b"{" + b" " * 10_000_000 + b"}",
                   headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["param"] == "body"


def test_the_first_bytes_arrive_before_the_whole_text_is_synthesised(voice, monkeypatch, spoken):
    expected = spoken(TWO_SENTENCES)
    gate = DecoderGate(monkeypatch)
    gate.hold(1)  # the second sentence's decoder waits until the client has the first bytes
    with running(voice) as base, httpx.stream("POST", f"{base}/v1/audio/speech",
                                              json={"input": TWO_SENTENCES, "response_format": "pcm"}) as r:
        chunks = r.iter_raw()
        first = next(chunks)
        assert len(first) > 0 and gate.steps_of(1) == 0  # the second sentence: not one step decoded
        gate.release()
        rest = b"".join(chunks)
    assert gate.calls == 2  # both sentences were decoded, the second after the first bytes arrived
    assert_audio(decode(first + rest, "pcm", 0), expected)


def batch_sizes(base: str) -> dict[str, float]:
    lines = httpx.get(f"{base}/metrics").text.splitlines()
    return {line.split()[0]: float(line.split()[1]) for line in lines if line.startswith("ttsfw_batch_size_")}


def concurrently(base: str, bodies: list[dict]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda body: speak(base, **body), bodies))


def test_seeded_requests_in_one_batch_each_get_their_solo_audio(golden):
    """Prenet dropout on, texts of different lengths, a seed each: every
    row draws from its own generator and ends where its own decoding does, so each response is
    the request's solo run."""
    voice = golden_voice(golden, "acoustic.prenet_dropout=true")
    bodies = [{"text": text, "seed": seed} for text, seed in
              [(SAME_LENGTH[0], 7), ("Say the word bird.", 8), ("Then say the word fish, and stop.", 9)]]
    with running(voice, max_batch=1) as base:
        alone = [speak(base, **body) for body in bodies]
        other_seed = speak(base, SAME_LENGTH[0], seed=8)
    with running(voice, max_batch=3, batch_window_ms=600_000) as base:  # starts when 3 have come
        together = concurrently(base, bodies)
        sizes = batch_sizes(base)
    assert sizes['ttsfw_batch_size_count'] == 1 and sizes['ttsfw_batch_size_bucket{le="2.0"}'] == 0
    for one, batched in zip(alone, together):
        assert one.status_code == batched.status_code == 200
        assert_audio(decode(batched.content, "pcm", 0), decode(one.content, "pcm", 0))
    assert together[0].content != other_seed.content  # the seed is what makes them equal


def test_requests_of_different_seeds_share_a_batch(voice):
    from ttsfw.serve.batcher import Batcher

    rows: list[int] = []
    ended = {name: threading.Event() for name in "abcd"}
    batcher = Batcher(voice, max_batch=2, batch_window_ms=600_000, max_queue=2, on_batch=rows.append)
    try:
        for name, seed in zip("abcd", (1, 2, None, 3)):
            batcher.submit(SAME_LENGTH[0], seed, lambda event, name=name: event.final and ended[name].set())
        assert all(event.wait(60) for event in ended.values())
    finally:
        batcher.close()
    assert rows == [2, 2]


def test_the_batcher_warms_the_voice_up_in_its_own_thread_before_it_takes_requests(voice, monkeypatch):
    """In the thread that will speak: torch work first run in another thread leaves it slower."""
    from ttsfw.serve.batcher import Batcher

    warmed: list[str] = []
    monkeypatch.setattr(type(voice), "warm_up", lambda self: warmed.append(threading.current_thread().name))
    batcher = Batcher(voice, max_batch=2, batch_window_ms=0, max_queue=2)
    assert warmed == ["ttsfw-batcher"]  # done when the constructor returns
    batcher.close()


def test_a_seeded_request_repeats_its_audio_with_prenet_dropout_on(golden):
    voice = golden_voice(golden, "acoustic.prenet_dropout=true")
    with running(voice) as base:
        first, again, other = (speak(base, SAME_LENGTH[0], seed=seed).content for seed in (3, 3, 4))
    assert first == again and first != other


def test_a_full_queue_is_503_with_retry_after(voice, monkeypatch):
    gate = DecoderGate(monkeypatch)
    gate.hold(0)
    with running(voice, max_batch=1, max_queue=0) as base:
        with ThreadPoolExecutor(1) as pool:
            busy = pool.submit(speak, base, SAME_LENGTH[0])
            assert gate.waiting.wait(30)  # the one row is taken
            refused = speak(base, SAME_LENGTH[1])
            gate.release()
            assert busy.result().status_code == 200
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["type"] == "queue_full"


def test_a_client_that_disconnects_frees_its_row(voice, monkeypatch, spoken):
    long, short = SAME_LENGTH[WORDS.index("gate")], SAME_LENGTH[WORDS.index("moon")]  # 145 and 33 frames
    spoken(short)
    gate = DecoderGate(monkeypatch)
    solo(voice, long)
    alone = gate.steps
    gate.steps = 0
    with running(voice, max_batch=2, batch_window_ms=600_000) as base:
        with ThreadPoolExecutor(1) as pool:
            stays = pool.submit(speak, base, short)
            with httpx.stream("POST", f"{base}/v1/audio/speech", json={"input": long, "response_format": "pcm"}) as r:
                next(r.iter_raw())  # the first chunk, then the client goes away
            kept = stays.result()
        assert gate.closed.wait(30)
        errors = httpx.get(f"{base}/metrics").text
    assert_audio(decode(kept.content, "pcm", 0), spoken(short))
    assert gate.steps < alone  # the decoder stopped when the short row ended: the long one was freed
    assert 'ttsfw_errors_total{endpoint="speech",kind="disconnected"} 1.0' in errors


def metric(base: str, sample: str) -> float:
    lines = [line for line in httpx.get(f"{base}/metrics").text.splitlines() if line.startswith(sample + " ")]
    return float(lines[0].split()[1]) if lines else 0.0


def test_a_client_that_leaves_while_queued_is_never_spoken(voice, monkeypatch):
    gate = DecoderGate(monkeypatch)
    gate.hold(0)
    with running(voice, max_batch=1, max_queue=1) as base:
        with ThreadPoolExecutor(1) as pool:
            busy = pool.submit(speak, base, SAME_LENGTH[0])
            assert gate.waiting.wait(30)  # the one row is taken: the next request queues
            with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes its connection
                httpx.post(f"{base}/v1/audio/speech", json={"input": SAME_LENGTH[1]}, timeout=1)
            gone = 'ttsfw_errors_total{endpoint="speech",kind="disconnected"}'
            for _ in range(300):  # until the server has seen it go (a guard, not a timing assert)
                if metric(base, gone) == 1:
                    break
                gate.released.wait(0.1)
            assert metric(base, "ttsfw_queue_depth") == 0
            gate.release()
            assert busy.result().status_code == 200
        assert metric(base, gone) == 1 and metric(base, "ttsfw_batch_size_count") == 1  # only the first


@pytest.fixture
def faulty(voice, monkeypatch):
    """The voice's encoder makes NaN memory for a text with a 'q' and raises for one with a 'z'."""
    encode = voice.acoustic.encode
    q, z = (int(voice.encode_each([letter])[0][0]) for letter in "qz")

    def broken(ids, lengths, rows_alone=False):
        if (ids == z).any():
            raise RuntimeError("the encoder broke")
        memory, pad_mask, restore = encode(ids, lengths, rows_alone)
        rows = (ids == q).any(1)[torch.argsort(restore)]  # memory rows are sorted longest first
        return torch.where(rows[:, None, None], torch.nan, memory), pad_mask, restore

    monkeypatch.setattr(voice.acoustic, "encode", broken)
    return voice


def test_a_failing_request_fails_alone_and_the_server_goes_on(faulty, spoken):
    with running(faulty, max_batch=2, batch_window_ms=600_000) as base:  # each pair is one batch
        nan, fine = concurrently(base, [{"text": "Say the word quit."}, {"text": SAME_LENGTH[2]}])
        crashed = concurrently(base, [{"text": "Say the word zero."}, {"text": SAME_LENGTH[3]}])
        after = concurrently(base, [{"text": SAME_LENGTH[2]}, {"text": SAME_LENGTH[3]}])
    assert nan.status_code == 500 and "NaN or Inf in the mel" in nan.json()["error"]["message"]
    assert_audio(decode(fine.content, "pcm", 0), spoken(SAME_LENGTH[2]))
    for response in crashed:  # an exception in the batch as a whole fails its rows, not the server
        assert response.status_code == 500 and "RuntimeError: the encoder broke" in response.json()["error"]["message"]
    for text, response in zip(SAME_LENGTH[2:4], after):
        assert_audio(decode(response.content, "pcm", 0), spoken(text))


def test_metrics_count_requests_errors_latency_ttfa_queue_and_batches(server):
    speak(server, SAME_LENGTH[3])
    speak(server, "Hello.", voice="nobody")
    text = httpx.get(f"{server}/metrics").text
    for sample in ('ttsfw_requests_total{endpoint="speech",status="200"}', 'ttsfw_requests_total{endpoint="speech",status="400"}',
                   'ttsfw_errors_total{endpoint="speech",kind="invalid_request_error"}',
                   'ttsfw_request_seconds_count{endpoint="speech"}', 'ttsfw_ttfa_seconds_bucket{endpoint="speech",le="+Inf"}',
                   "ttsfw_queue_depth 0.0", "ttsfw_batch_size_count", "ttsfw_audio_seconds_total"):
        assert sample in text


def test_load_every_response_is_complete_and_its_own(server, voice, spoken):
    """32 requests from 8 clients at once: each answered in full with its own text's audio."""
    short = [SAME_LENGTH[WORDS.index(word)] for word in "moon wind door bird leaf hill sand lamp".split()]
    texts = [short[i % len(short)] for i in range(32)]
    expected = {text: spoken(text) for text in set(texts)}
    failures: list[str] = []

    def client(mine: list[str]) -> list[tuple[str, bytes]]:
        with httpx.Client(timeout=120) as session:
            return [(t, session.post(f"{server}/v1/audio/speech", json={"input": t, "response_format": "pcm"}).content)
                    for t in mine]

    with ThreadPoolExecutor(8) as pool:
        results = [r for part in pool.map(client, [texts[i::8] for i in range(8)]) for r in part]
    assert sorted(t for t, _ in results) == sorted(texts)
    for text, data in results:
        try:
            assert_audio(decode(data, "pcm", 0), expected[text])
        except AssertionError:
            failures.append(text)
    assert failures == []


def test_the_load_generator_reports_each_level(server, capsys):
    from ttsfw.serve.bench import main, percentile

    assert main(["--url", server, "--clients", "1,2", "--requests", "2", "--text", SAME_LENGTH[4]]) == 0
    rows = capsys.readouterr().out.splitlines()[-2:]
    assert [row.split("|")[1:4] for row in rows] == [[" 1 ", " 2 ", " 0 "], [" 2 ", " 2 ", " 0 "]]
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0 and percentile([3.0, 1.0, 2.0, 4.0], 99) == 4.0
