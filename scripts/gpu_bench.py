"""Issue 21's GPU check and benchmark in one run, sized for the device tool (~5 minutes on an
H200; docs/benchmark.md "On a GPU" has the commands that carry what it needs there).

    python scripts/gpu_bench.py --out DIR [--golden GOLDEN_DIR] [--dle DLE_TACOTRON2_DIR] [--device cuda] [--quick]

1. With ``--golden`` (../shared/golden): **fp32 meets the goldens on the device**
   (scripts/device_goldens.py: Tacotron2 with graphs off and on, WaveGlow, the denoiser,
   HiFi-GAN; TF32 off, as device=cuda sets), else the script stops there, naming the outputs.
   Then **graphs decode as the step loop** on the device: a full-size random Tacotron2, fp32,
   seeded prenet dropout, three rows of different lengths, whole and streamed, with
   ``acoustic.cuda_graph_steps`` 16 and 0: the largest |mel difference| must be <= 1e-4 (the
   golden audio tolerance), else the script stops there too.
2. **The lab sentence** (166 characters, 754 frames forced) through the project's benchmark
   (`ttsfw.bench.run_benchmark`, what ``mode=bench`` runs), a row per configuration:
   Tacotron2 + HiFi-GAN V1 or + WaveGlow-256, fp32/bf16/fp16, graphs off and on, batch 1, 8, 32.
3. With ``--dle`` (a checkout's ``PyTorch/SpeechSynthesis/Tacotron2``): NVIDIA's own Tacotron2
   and WaveGlow code on the same random weights, timed the same way in the same process.

DIR gets gpu_bench.json (every figure) and gpu_bench.md (the table). ``--device cpu --quick``
runs all of it small on a CPU, with the graph blocks run eagerly: a check of the script itself.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
import types
from pathlib import Path

import torch

from ttsfw import Pipeline
from ttsfw.bench import bench_text, run_benchmark
from ttsfw.components.waveglow.checkpoint import reference_layout

from device_goldens import check_goldens  # scripts/, beside this file

GRAPH_TOLERANCE = 1e-4
LAB = ["acoustic.checkpoint=random", "acoustic.early_stopping=false", "acoustic.max_frames_per_symbol=null",
       "denoiser=none"]
VOCODERS = {
    "HiFi-GAN V1": ["vocoder=hifigan_v1", "vocoder.checkpoint=random"],
    "WaveGlow-256": ["vocoder=waveglow", "vocoder.checkpoint=random", "vocoder.n_channels=256"],
}
#: (vocoder, precision, steps per graph, batch): the table's rows
ROWS = [
    ("HiFi-GAN V1", "fp32", 0, 1), ("HiFi-GAN V1", "fp32", 16, 1),
    ("HiFi-GAN V1", "bf16", 0, 1), ("HiFi-GAN V1", "bf16", 8, 1), ("HiFi-GAN V1", "bf16", 16, 1),
    ("HiFi-GAN V1", "bf16", 32, 1), ("HiFi-GAN V1", "fp16", 16, 1),
    ("WaveGlow-256", "fp32", 16, 1), ("WaveGlow-256", "fp16", 0, 1), ("WaveGlow-256", "fp16", 16, 1),
    ("HiFi-GAN V1", "bf16", 16, 8), ("HiFi-GAN V1", "bf16", 16, 32),
    ("WaveGlow-256", "fp16", 16, 8), ("WaveGlow-256", "fp16", 16, 32),
]
#: built-in vocoders only: the HiFi-GAN plugin need not be installed for a check of the script
QUICK_ROWS = [("WaveGlow-256", "fp32", 0, 1), ("WaveGlow-256", "fp32", 8, 2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--golden", type=Path, help="the golden fixtures (../shared/golden)")
    parser.add_argument("--dle", type=Path, help="DeepLearningExamples' PyTorch/SpeechSynthesis/Tacotron2")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="few steps and rows (a check of the script)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    steps, warmup, iters = (20, 1, 1) if args.quick else (754, 2, 5)
    lab = [*LAB, f"device={args.device}", f"acoustic.max_decoder_steps={steps}"]
    report: dict = {"environment": environment(args.device), "decoder_steps": steps}
    print(json.dumps(report["environment"]), flush=True)
    if args.device != "cuda":  # no capture off CUDA: run the same blocks eagerly (a check of the script)
        from ttsfw.components.tacotron2.layers import Decoder

        Decoder.uses_graphs = lambda self, device: self.cuda_graph_steps > 0

    if args.golden:
        report["goldens"] = check_goldens(args.golden, args.device)
        save(args.out, report)
        missed = [row["output"] for row in report["goldens"]["rows"] if not row["ok"]]
        print(f"goldens on {report['goldens']['device']}: {len(report['goldens']['rows'])} outputs, missed: {missed}",
              flush=True)
        if missed:
            sys.exit(f"fp32 on {args.device} misses the goldens: {', '.join(missed)}")
    report["graphs_vs_steps"] = check_graphs(lab)
    print("graphs vs step loop:", report["graphs_vs_steps"], flush=True)
    save(args.out, report)
    if report["graphs_vs_steps"]["max_abs_diff"] > GRAPH_TOLERANCE:
        sys.exit(f"the CUDA graphs' mels differ from the step loop's by more than {GRAPH_TOLERANCE}")

    report["rows"] = []
    for vocoder, precision, graph_steps, batch in QUICK_ROWS if args.quick else ROWS:
        overrides = [*lab, *VOCODERS[vocoder], f"precision={precision}", f"acoustic.cuda_graph_steps={graph_steps}"]
        row = {"system": f"ttsfw Tacotron2 + {vocoder}", "precision": precision, "graph_steps": graph_steps,
               "batch": batch, **bench_row(overrides, batch, warmup, iters)}
        report["rows"].append(row)
        print(json.dumps(row), flush=True)
        save(args.out, report)
    if args.dle:
        for vocoder, precision, batch in [("WaveGlow-256", "fp32", 1), ("WaveGlow-256", "fp16", 1),
                                          ("HiFi-GAN V1", "fp32", 1)][: 1 if args.quick else None]:
            row = dle_row(args.dle, [*lab, *VOCODERS[vocoder]], precision, batch, warmup, iters, vocoder)
            report["rows"].append(row)
            print(json.dumps(row), flush=True)
            save(args.out, report)
    (args.out / "gpu_bench.md").write_text(table(report))
    print(table(report))


def environment(device: str) -> dict:
    found = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": device}
    if device == "cuda":
        found["gpu"] = torch.cuda.get_device_name()
    return found


def check_graphs(lab: list[str]) -> dict:
    """Largest |mel difference| between graphs (16 steps) and the step loop, whole and streamed."""
    tts = Pipeline.from_overrides([*lab, "acoustic.max_decoder_steps=300", "acoustic.early_stopping=true",
                                   "acoustic.gate_threshold=1.0", "acoustic.max_frames_per_symbol=2.0",
                                   "vocoder=griffinlim", "precision=fp32"])
    model = tts.acoustic
    texts = ["The lab's sentence, to start with.", "A shorter one.", "And one that is a little longer than that."]
    ids = [torch.as_tensor(row) for row in tts.encode_each(texts)]
    lengths = torch.tensor([len(row) for row in ids], device=tts.device.device)
    ids = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True).to(tts.device.device)

    def decode(graph_steps: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.decoder.cuda_graph_steps = graph_steps
        seeded = lambda: [torch.Generator(tts.device.device).manual_seed(row) for row in range(3)]  # noqa: E731
        whole = model.infer_full(ids, lengths, seeded()).mel_postnet
        chunks = [chunk.mel for chunk in model.stream_mels(ids, lengths, seeded())]
        return whole, chunks

    (whole, chunks), blocks = decode(16), len(model.decoder.graphs().blocks)
    plain, plain_chunks = decode(0)
    diffs = [float((whole - plain).abs().max())]
    diffs += [float((a - b).abs().max()) for a, b in zip(chunks, plain_chunks) if a.numel()]
    return {"max_abs_diff": max(diffs), "frames": whole.size(2), "chunks": len(chunks),
            "same_chunk_count": len(chunks) == len(plain_chunks), "blocks": blocks}


def bench_row(overrides: list[str], batch: int, warmup: int, iters: int) -> dict:
    """Medians of the project's benchmark for one configuration."""
    tts = Pipeline.from_overrides(["mode=bench", *overrides])
    timed, _ = run_benchmark(tts, bench_text(tts.cfg), batch, warmup, iters)
    row = {name: statistics.median(timed[name]) for name in
           ("latency", "acoustic_latency", "vocoder_latency", "rtf", "decoder_ms_per_step", "audio_seconds")}
    row["audio_seconds_per_second"] = row["audio_seconds"] / row["latency"]
    del tts
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return row


def dle_row(dle: Path, overrides: list[str], precision: str, batch: int, warmup: int, iters: int, vocoder: str) -> dict:
    """NVIDIA's code on our pipeline's random weights, timed as `measure_iteration` times ours."""
    tts = Pipeline.from_overrides(["mode=bench", *overrides, "precision=fp32"])
    tacotron2, waveglow = dle_models(dle, tts, vocoder)
    device = tts.device.device
    ids = torch.as_tensor(tts.encode_each([bench_text(tts.cfg)])[0], device=device).repeat(batch, 1)
    lengths = torch.full((batch,), ids.size(1), device=device)
    autocast = torch.autocast(device.type, dtype=torch.float16, enabled=precision == "fp16")
    times: dict[str, list[float]] = {"acoustic_latency": [], "vocoder_latency": []}
    with torch.inference_mode(), autocast:
        for iteration in range(warmup + iters):
            tts.device.synchronize()
            started = time.perf_counter()
            mel, _, _ = tacotron2.infer(ids, lengths)
            tts.device.synchronize()
            decoded = time.perf_counter()
            audio = waveglow(mel)
            tts.device.synchronize()
            if iteration >= warmup:
                times["acoustic_latency"].append(decoded - started)
                times["vocoder_latency"].append(time.perf_counter() - decoded)
    row = {name: statistics.median(values) for name, values in times.items()}
    row["latency"] = row["acoustic_latency"] + row["vocoder_latency"]
    row["audio_seconds"] = audio.numel() / tts.sample_rate
    row["rtf"] = row["latency"] / row["audio_seconds"]
    row["decoder_ms_per_step"] = 1000 * row["acoustic_latency"] / mel.size(2)
    row["audio_seconds_per_second"] = row["audio_seconds"] / row["latency"]
    name = "DLE Tacotron2 + " + ("WaveGlow-256" if vocoder == "WaveGlow-256" else "ttsfw HiFi-GAN V1")
    return {"system": name, "precision": precision, "graph_steps": 0, "batch": batch, **row}


def dle_models(dle: Path, tts: Pipeline, vocoder: str):
    """DLE's Tacotron2 (and WaveGlow) modules holding `tts`'s weights -> (tacotron2, mel -> audio)."""
    if importlib.util.find_spec("librosa") is None:  # DLE imports it for training-time STFTs only
        librosa = types.ModuleType("librosa")
        librosa.filters = types.SimpleNamespace(mel=None)
        librosa.util = types.SimpleNamespace(pad_center=None, tiny=None)
        sys.modules.update({"librosa": librosa, "librosa.filters": librosa.filters, "librosa.util": librosa.util})
    sys.path.insert(0, str(dle))
    from tacotron2.model import Tacotron2  # noqa: E402  (DLE's)

    c = tts.acoustic.config
    tacotron2 = Tacotron2(
        mask_padding=False, n_mel_channels=c.n_mel_channels, n_symbols=c.n_symbols,
        symbols_embedding_dim=c.symbols_embedding_dim, encoder_kernel_size=c.encoder_kernel_size,
        encoder_n_convolutions=c.encoder_n_convolutions, encoder_embedding_dim=c.encoder_embedding_dim,
        attention_rnn_dim=c.attention_rnn_dim, attention_dim=c.attention_dim,
        attention_location_n_filters=c.attention_location_n_filters,
        attention_location_kernel_size=c.attention_location_kernel_size, n_frames_per_step=c.n_frames_per_step,
        decoder_rnn_dim=c.decoder_rnn_dim, prenet_dim=c.prenet_dim, max_decoder_steps=c.max_decoder_steps,
        gate_threshold=c.gate_threshold, p_attention_dropout=0.1, p_decoder_dropout=0.1,
        postnet_embedding_dim=c.postnet_embedding_dim, postnet_kernel_size=c.postnet_kernel_size,
        postnet_n_convolutions=c.postnet_n_convolutions, decoder_no_early_stopping=not c.early_stopping,
    )
    tacotron2.load_state_dict(tts.acoustic.state_dict())
    tacotron2 = tacotron2.to(tts.device.device).eval()
    if vocoder != "WaveGlow-256":  # DLE has no HiFi-GAN: ours, in fp32, after DLE's Tacotron2
        return tacotron2, lambda mel: tts.vocoder.infer(mel.float())
    from waveglow.model import WaveGlow  # noqa: E402  (DLE's)

    w = tts.vocoder.config
    waveglow = WaveGlow(
        n_mel_channels=w.n_mel_channels, n_flows=w.n_flows, n_group=w.n_group, n_early_every=w.n_early_every,
        n_early_size=w.n_early_size, WN_config=dict(n_layers=w.n_layers, kernel_size=w.kernel_size, n_channels=w.n_channels),
    )
    waveglow.load_state_dict(reference_layout(tts.vocoder.state_dict(), w.n_layers, "dle"))
    waveglow = WaveGlow.remove_weightnorm(waveglow)  # as DLE's inference does
    waveglow = waveglow.to(tts.device.device).eval()
    return tacotron2, lambda mel: waveglow.infer(mel, sigma=0.6)


def table(report: dict) -> str:
    env = report["environment"]
    lines = [
        f"{env.get('gpu', env['device'])}, torch {env['torch']} (CUDA {env['cuda']}); the lab sentence, "
        f"{report['decoder_steps']} decoder steps forced; random full-size weights; medians",
        "",
        "| system | precision | graph steps | batch | latency s | decoder ms/step | vocoder s | RTF | audio s/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['system']} | {row['precision']} | {row['graph_steps']} | {row['batch']} | "
            f"{row['latency']:.4f} | {row['decoder_ms_per_step']:.3f} | {row['vocoder_latency']:.4f} | "
            f"{row['rtf']:.4f} | {row['audio_seconds_per_second']:.1f} |"
        )
    check = report["graphs_vs_steps"]
    lines += ["", f"graphs vs step loop: max |mel diff| {check['max_abs_diff']:.2e} over {check['frames']} frames, "
                  f"{check['chunks']} stream chunks"]
    if "goldens" in report:
        rows = report["goldens"]["rows"]
        worst = max(rows, key=lambda row: row["max_abs_diff"] / max(row["tolerance"], 1e-12))
        lines.append(f"goldens in fp32 on the device: {sum(row['ok'] for row in rows)} of {len(rows)} outputs met; "
                     f"closest to its tolerance: {worst['output']} {worst['max_abs_diff']:.2e} (<= {worst['tolerance']:g})")
    return "\n".join(lines) + "\n"


def save(out: Path, report: dict) -> None:
    (out / "gpu_bench.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
