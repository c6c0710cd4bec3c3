"""``python -m ttsfw serve-bench``: a load generator for a running ``python -m ttsfw serve``.

For each number of concurrent clients it sends requests (streamed, ``response_format=pcm``)
and reports throughput (seconds of audio per second of wall clock), latency and time to first
audio (p50, p99, seen by the client: from sending the request to the last or first audio
byte) and errors. Only the standard library: it runs wherever Python does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

TEXTS = [
    "Text to speech turns written words into sound you can hear.",
    "The quick brown fox jumps over the lazy dog.",
    "Printing, in the only sense with which we are at present concerned, differs from most arts.",
    "A server streams each sentence while the decoder is still working on it.",
    "Please say the word moon for me now.",
    "Batching speaks several requests at once, each in its own row.",
]


@dataclass
class Level:
    """The figures for one number of concurrent clients (seconds)."""

    clients: int
    requests: int
    errors: int
    audio_seconds: float
    wall_seconds: float
    throughput: float  # audio seconds per wall-clock second
    latency_p50: float
    latency_p99: float
    ttfa_p50: float
    ttfa_p99: float


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q` percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def one_request(url: str, text: str) -> tuple[float, float, float]:
    """POST one text; (latency, ttfa, audio seconds). Raises on an error answer."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=600)
    body = json.dumps({"model": "ttsfw", "input": text, "response_format": "pcm"})
    started = time.perf_counter()
    try:
        connection.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {response.read(500).decode(errors='replace')}")
        rate = int(response.headers["X-Sample-Rate"])
        first, received = None, 0
        while chunk := response.read1(65536):
            first = first or time.perf_counter()
            received += len(chunk)
        return time.perf_counter() - started, (first or time.perf_counter()) - started, received / 2 / rate
    finally:
        connection.close()


def run_level(url: str, clients: int, requests: int, texts: list[str]) -> Level:
    """`requests` requests, `clients` at a time, texts in turn."""
    results: list[tuple[float, float, float]] = []
    errors: list[str] = []
    todo = iter(range(requests))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                number = next(todo, None)
            if number is None:
                return
            try:
                result = one_request(url, texts[number % len(texts)])
                with lock:
                    results.append(result)
            except Exception as exc:  # counted and reported, the run goes on
                with lock:
                    errors.append(str(exc))

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies, ttfas, audio = ([r[k] for r in results] for k in range(3))
    return Level(clients, requests, len(errors), sum(audio), wall, sum(audio) / wall,
                 percentile(latencies, 50), percentile(latencies, 99), percentile(ttfas, 50), percentile(ttfas, 99))


def table(levels: list[Level]) -> str:
    """The figures as a markdown table."""
    rows = ["| clients | requests | errors | audio s/s | latency p50 | latency p99 | TTFA p50 | TTFA p99 |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in levels:
        rows.append(f"| {x.clients} | {x.requests} | {x.errors} | {x.throughput:.2f} | {x.latency_p50:.2f} s | "
                    f"{x.latency_p99:.2f} s | {x.ttfa_p50:.3f} s | {x.ttfa_p99:.3f} s |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ttsfw serve-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default %(default)s)")
    parser.add_argument("--clients", default="1,4,16", help="concurrent clients per level (default %(default)s)")
    parser.add_argument("--requests", type=int, default=0,
                        help="requests per level (default: 4 per client, at least 8)")
    parser.add_argument("--text", action="append", help="a text to send (repeat; default: six sentences)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    levels = []
    for clients in (int(c) for c in args.clients.split(",")):
        levels.append(run_level(args.url, clients, args.requests or max(8, 4 * clients), args.text or TEXTS))
        print(f"{clients} clients: done", flush=True)
    print(table(levels))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([asdict(level) for level in levels], out, indent=2)
    return 0 if not any(level.errors for level in levels) else 1
