"""``mode=bench mode.stream=true``: the benchmark's iteration spoken as a stream, with the
figures a listener waits on: each row's time to first audio (TTFA, from the start of the
iteration, text processing included) and its underruns, the chunks that arrive after the audio
before them would have finished playing at 1x (a player that starts with the first chunk).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .results import Piece
from .timing import StageTimer

if TYPE_CHECKING:
    from .engine import Engine


def measure_stream_iteration(engine: "Engine", texts: list[str]) -> tuple[dict[str, float | list[float]], str | None]:
    """Stream `texts` as one batch; return this iteration's numbers (seconds unless named; the
    per-row ``time_to_first_audio`` and ``underruns`` as lists) and why a row could not be
    spoken, if one could not."""
    pipeline = engine.pipeline
    timer = engine.timer = StageTimer(pipeline.device)
    start = time.perf_counter()
    with timer.stage("pre_processing"):
        pieces = [Piece(i, 0, 1, text, ids) for i, (text, ids) in enumerate(zip(texts, pipeline.encode_each(texts)))]
    first: dict[int, float] = {}
    playing_until: dict[int, float] = {}
    underruns = [0] * len(pieces)
    samples, problem = 0, None
    for i, result in engine.stream_batch(pieces):
        now = time.perf_counter() - start
        if isinstance(result, str):
            problem = result
            continue
        if i not in first:
            first[i] = playing_until[i] = now
        elif now > playing_until[i]:
            underruns[i] += 1
            playing_until[i] = now
        playing_until[i] += len(result.audio) / pipeline.sample_rate
        samples += len(result.audio)
    seconds = timer.as_dict()
    latency = seconds.get("acoustic", 0.0) + seconds.get("vocoder", 0.0)
    audio_seconds = samples / pipeline.sample_rate
    return {
        "pre_processing": seconds["pre_processing"],
        "acoustic_latency": seconds.get("acoustic", 0.0),
        "vocoder_latency": seconds.get("vocoder", 0.0),  # the denoiser included, as it streams
        "latency": latency,
        "audio_seconds": audio_seconds,
        "rtf": latency / audio_seconds if audio_seconds else float("nan"),
        "time_to_first_audio": [first[i] for i in sorted(first)],
        "underruns": [float(n) for i, n in enumerate(underruns) if i in first],
        "hit_max_decoder_steps": 0.0,  # a stream reports cuts as warnings
        "unspeakable_rows": float(len(pieces) - len(first)),
    }, problem
