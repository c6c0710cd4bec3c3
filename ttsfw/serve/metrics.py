"""The server's Prometheus metrics (``GET /metrics``), in a registry of its own.

With ``--workers N`` each process counts its own requests into files under
``PROMETHEUS_MULTIPROC_DIR`` (set by the serve command) and ``/metrics`` sums them over the
processes (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

#: seconds: latency and time to first audio, from tens of milliseconds to a long paragraph
SECONDS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0)
ROWS = (1, 2, 4, 8, 16, 32, 64)


class Metrics:
    """requests, errors, latency and TTFA histograms, queue depth, batch sizes, audio made."""

    def __init__(self) -> None:
        self.multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ
        self.registry = CollectorRegistry()
        own = None if self.multiprocess else self.registry
        self.requests = Counter(
            "ttsfw_requests", "Requests answered, by endpoint and HTTP status", ["endpoint", "status"], registry=own
        )
        self.errors = Counter(
            "ttsfw_errors",
            "Requests that failed, by kind: invalid_request_error, too_large, queue_full, draining, "
            "unspeakable, synthesis (a model failed), disconnected (the client left mid-stream)",
            ["endpoint", "kind"],
            registry=own,
        )
        self.latency = Histogram(
            "ttsfw_request_seconds", "Request to last audio byte, seconds", ["endpoint"], buckets=SECONDS, registry=own
        )
        self.ttfa = Histogram(
            "ttsfw_ttfa_seconds", "Request to first audio chunk, seconds", ["endpoint"], buckets=SECONDS, registry=own
        )
        self.batch_rows = Histogram(
            "ttsfw_batch_size", "Requests decoded together in one Tacotron2 batch", buckets=ROWS, registry=own
        )
        self.queue_depth = Gauge(
            "ttsfw_queue_depth", "Requests waiting for a batch row", multiprocess_mode="livesum", registry=own
        )
        self.audio_seconds = Counter("ttsfw_audio_seconds", "Seconds of audio sent", registry=own)
        if self.multiprocess:
            MultiProcessCollector(self.registry)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
