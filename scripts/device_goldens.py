"""The golden fixtures on a device: the golden models' fp32 outputs, computed on `--device`,
against the references' CPU numbers within ../shared/golden/README.md's tolerances.

    python scripts/device_goldens.py GOLDEN_DIR [--device cuda] [--graph-steps 0 16]

Cases: Tacotron2 b2, b1 and b1_max (no dropout; every output of `infer_full`, for each
``cuda_graph_steps`` given), WaveGlow at sigma 0 and with the golden noise injected, the
denoiser's bias spectrum and audio at both strengths, HiFi-GAN resblock1 and resblock2 (when
the plugin is importable). The device's backend prepares torch first (on CUDA: TF32 off), so
fp32 means fp32. Exit status 1 if any output misses its tolerance. scripts/gpu_bench.py runs
this first with ``--golden``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
from omegaconf import OmegaConf

from ttsfw.components.tacotron2.load import load_tacotron2
from ttsfw.components.waveglow.load import load_waveglow
from ttsfw.config import compose_config
from ttsfw.plugins import get_registry
from ttsfw.registry import BuildContext

TACOTRON2_CASES = ("b2", "b1", "b1_max")
TACOTRON2_OUTPUTS = ("encoder_outputs", "mel", "mel_postnet", "gate", "alignments")


def compare(name: str, actual: torch.Tensor, expected: torch.Tensor, tolerance: float) -> dict:
    """One output against its golden: max |difference| over the whole tensor, shapes equal."""
    actual = actual.detach().float().cpu()
    same_shape = tuple(actual.shape) == tuple(expected.shape)
    error = float((actual - expected).abs().max()) if same_shape else float("inf")
    return {"output": name, "max_abs_diff": error, "tolerance": tolerance, "ok": same_shape and error <= tolerance}


def tacotron2_rows(golden: Path, device: torch.device, graph_steps: int, tolerances: dict) -> list[dict]:
    cases = torch.load(golden / "tacotron2" / "cases.pt", map_location="cpu", weights_only=True)
    model = load_tacotron2(golden / "tacotron2" / "ckpt_dle.pt", max_decoder_steps=60, prenet_dropout=False)
    model.decoder.cuda_graph_steps = graph_steps
    model.to(device)
    rows = []
    for case in TACOTRON2_CASES:
        expected = cases[case]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # b1_max reaches max_decoder_steps, as its golden does
            out = model.infer_full(expected["ids"].to(device), expected["lengths"].to(device))
        prefix = f"tacotron2 {case} graphs={graph_steps}"
        rows.append(compare(f"{prefix} mel_lengths", out.mel_lengths, expected["mel_lengths"].float(), 0.0))  # exact
        rows += [compare(f"{prefix} {name}", getattr(out, name), expected[name], tolerances[name])
                 for name in TACOTRON2_OUTPUTS]
    return rows


def waveglow_rows(golden: Path, device: torch.device, manifest: dict) -> list[dict]:
    io = torch.load(golden / "waveglow" / "io.pt", map_location="cpu", weights_only=True)
    model = load_waveglow(golden / "waveglow" / "ckpt_dle.pt").to(device)
    mel, tolerance = io["mel"].to(device), manifest["waveglow"]["tolerances"]["audio"]
    noise = [io["noise_0"].to(device), io["noise_1"].to(device)]
    with torch.inference_mode():
        rows = [compare("waveglow sigma0", model.infer(mel, sigma=0.0), io["audio_sigma0"], tolerance),
                compare("waveglow sigma0.6 injected noise", model.infer(mel, noise=noise),
                        io["audio_sigma0.6_seed1234"], tolerance)]
    expected = torch.load(golden / "denoiser" / "denoiser.pt", map_location="cpu", weights_only=True)
    tolerances = manifest["denoiser"]["tolerances"]
    node = OmegaConf.create({"name": "waveglow_bias", "strength": 0.01, "mode": "zeros"})
    denoiser = get_registry().build("denoiser", node, BuildContext(vocoder=model))
    rows.append(compare("denoiser bias_spec", denoiser.bias_spec, expected["bias_spec"], tolerances["bias_spec"]))
    with torch.inference_mode():
        for strength in manifest["denoiser"]["strengths"]:
            audio = denoiser(expected["audio_in"].to(device), strength)
            rows.append(compare(f"denoiser {strength}", audio, expected[f"denoised_{strength}"][:, 0],
                                tolerances["denoised"]))
    return rows


def hifigan_rows(golden: Path, device: torch.device, manifest: dict) -> list[dict]:
    try:
        from ttsfw_hifigan import load_hifigan
    except ImportError:
        return []
    rows = []
    for case in manifest["hifigan"]["models"]:
        io = torch.load(golden / case["io"], map_location="cpu", weights_only=True)
        model = load_hifigan(golden / case["checkpoint"]).to(device)
        with torch.inference_mode():
            audio = model.infer(io["mel"].to(device))
        rows.append(compare(f"hifigan {case['name']}", audio, io["audio"].squeeze(1),
                            manifest["hifigan"]["tolerances"]["audio"]))
    return rows


def check_goldens(golden: Path, device: str = "cuda", graph_steps: tuple[int, ...] = (0, 16)) -> dict:
    """Every golden case on `device` -> {"device", "rows": [{output, max_abs_diff, tolerance,
    ok}], "passed"}."""
    backend = get_registry().build("device", compose_config([f"device={device}"])[0].device, BuildContext())
    backend.prepare()
    manifest = json.loads((golden / "manifest.json").read_text())
    tolerances = manifest["tacotron2"]["tolerances"]
    rows = [row for steps in graph_steps for row in tacotron2_rows(golden, backend.device, steps, tolerances)]
    rows += waveglow_rows(golden, backend.device, manifest) + hifigan_rows(golden, backend.device, manifest)
    return {"device": backend.describe(), "rows": rows, "passed": all(row["ok"] for row in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("golden", type=Path, help="the golden fixtures (../shared/golden)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--graph-steps", type=int, nargs="+", default=[0, 16])
    args = parser.parse_args()
    report = check_goldens(args.golden, args.device, tuple(args.graph_steps))
    for row in report["rows"]:
        print(f"{'ok  ' if row['ok'] else 'FAIL'} {row['output']}: {row['max_abs_diff']:.2e} (<= {row['tolerance']:g})")
    print(f"{report['device']}: {'all goldens met' if report['passed'] else 'goldens MISSED'}")
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
