"""``python -m ttsfw export out=DIR [opset=N] [overrides...]``: every stage of the pipeline the
overrides compose (voice=, acoustic.checkpoint=, vocoder=, ...) as ONNX files plus
``manifest.json``, for ``runtime=onnxruntime`` (and TensorRT, MagicMind: docs/deploy.md).

A vocoder or denoiser is exported through the ``ttsfw_onnx_module`` hook (its plugin says how);
one without weights and without an ONNX form (Griffin-Lim: inverse STFT is no ONNX operator)
is recorded by its config and runs in torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from ...config import compose_config
from ...errors import ConfigError
from ...pipeline import Pipeline
from ...plugins import get_plugin_manager
from ..tacotron2.model import Tacotron2
from .graph import export_graph
from .manifest import write_manifest
from .session import require
from .tacotron2_graphs import export_tacotron2

#: the default opset, 17: the first with STFT; 14..20 are accepted (14, 17 and 20 checked)
OPSET = 17
#: a vocoder's graph is named after it (waveglow.onnx, hifigan.onnx); these stages' are fixed
FILES = {"denoiser": "denoiser.onnx"}
USAGE = (
    "usage: python -m ttsfw export out=DIR [opset=N] [overrides...]\n"
    "  writes encoder.onnx, decoder_step.onnx, postnet.onnx, the vocoder (and denoiser) and\n"
    "  manifest.json for the pipeline the overrides compose, e.g. acoustic.checkpoint=PATH\n"
    "  vocoder=waveglow vocoder.checkpoint=PATH; run them with runtime=onnxruntime runtime.dir=DIR"
)


def parse_args(argv: list[str]) -> tuple[Path, int, list[str]]:
    """argv -> the output directory, the opset and the config overrides."""
    out, opset, overrides = None, OPSET, []
    for arg in argv:
        key, _, value = arg.partition("=")
        if key == "out" and value:
            out = Path(value).expanduser()
        elif key == "opset":
            try:
                opset = int(value)
            except ValueError:
                raise ConfigError(f"opset must be a whole number (e.g. opset={OPSET}), got {value!r}") from None
        else:
            overrides.append(arg)
    if out is None:
        raise ConfigError("export needs out=DIR, the directory to write the ONNX files to")
    if not 14 <= opset <= 20:
        raise ConfigError(f"opset must be in 14..20 (default {OPSET}), got {opset}")
    return out, opset, overrides


def main(argv: list[str]) -> int:
    """The ``export`` command (registered through ``ttsfw_register_commands``)."""
    if {"-h", "--help"} & set(argv):
        print(USAGE)
        return 0
    out, opset, overrides = parse_args(argv)
    require("onnx")
    cfg, choices = compose_config(overrides)
    manifest = export_pipeline(cfg, choices, out, opset)
    for name in manifest["sha256"]:
        print(out / name)
    print(out / "manifest.json")
    return 0


def export_pipeline(cfg: DictConfig, choices: dict[str, str], out: Path, opset: int) -> dict[str, Any]:
    """Build the torch pipeline of `cfg` and write all its stages to `out`; return the manifest."""
    if cfg.runtime.name != "torch":
        raise ConfigError("export builds the torch pipeline: leave runtime=torch (the default)")
    if cfg.precision != "fp32" or cfg.get("quantize", "none") != "none":
        raise ConfigError(
            f"export writes fp32 graphs (got precision={cfg.precision}, quantize={cfg.quantize}): "
            f"reduced precision is the runtime's choice (runtime.quantize=int8; trtexec --fp16)"
        )
    pipeline = Pipeline(cfg, choices)
    if not isinstance(pipeline.acoustic, Tacotron2):
        raise ConfigError(
            f"export knows the tacotron2 acoustic model, not {type(pipeline.acoustic).__name__}"
        )
    out.mkdir(parents=True, exist_ok=True)
    frontend = {
        "name": cfg.frontend.name,
        "settings": OmegaConf.to_container(cfg.frontend, resolve=True),
        "symbols": list(pipeline.frontend.symbols),
    }
    stages = {
        "frontend": frontend,
        "acoustic": export_tacotron2(pipeline.acoustic.cpu(), out, opset),
        "vocoder": export_stage("vocoder", pipeline.vocoder, cfg.vocoder, out, opset),
        "denoiser": export_stage("denoiser", pipeline.denoiser, cfg.denoiser, out, opset),
    }
    return write_manifest(out, opset, stages)


def export_stage(stage: str, component: Any, node: DictConfig, out: Path, opset: int) -> dict[str, Any]:
    """The manifest entry of the vocoder or denoiser `component` (built from config `node`), its
    graph written to `out`."""
    name = str(node.name)
    if component is None:
        return {"name": name, "runs_in": None}
    module = get_plugin_manager().hook.ttsfw_onnx_module(stage=stage, component=component)
    if module is not None:
        module, path = module.cpu().float().eval(), out / FILES.get(stage, f"{name}.onnx")
        if stage == "vocoder":
            entry = export_vocoder(module, component, path, opset)
        else:
            entry = export_denoiser(module, path, opset)
        return {"name": name, "runs_in": "onnxruntime", "context_frames": component.context_frames, **entry}
    if next(component.parameters(), None) is None:
        return {"name": name, "runs_in": "torch", "config": OmegaConf.to_container(node, resolve=True)}
    raise ConfigError(
        f"the {stage} {name} has no ONNX form: its plugin does not implement the "
        f"ttsfw_onnx_module hook (docs/hooks.md)"
    )


def export_vocoder(module: torch.nn.Module, vocoder: Any, path: Path, opset: int) -> dict[str, Any]:
    """`module`: forward(mel, *noise) -> audio (B, N), noise shapes from ``noise_shapes``."""
    frames = 4
    shapes = module.noise_shapes(2, frames) if hasattr(module, "noise_shapes") else []
    noise = [f"noise_{k}" for k in range(len(shapes))]
    axes = {"mel": {0: "batch", 2: "time_out"}, "audio": {0: "batch", 1: "samples"}}
    axes.update({input: {0: "batch", 2: "noise_length"} for input in noise})
    args = (torch.zeros(2, vocoder.n_mel_channels, frames), *(torch.zeros(shape) for shape in shapes))
    return {
        "graph": export_graph(module, args, path, opset, axes, outputs=("audio",), inputs=("mel", *noise)),
        "sample_rate": int(vocoder.sample_rate),
        "hop_length": int(vocoder.hop_length),
        "n_mel_channels": int(vocoder.n_mel_channels),
        "sigma": float(getattr(module, "sigma", 1.0)),
        "noise": [
            {"input": input, "channels": shape[1], "samples_per_frame": shape[2] // frames}
            for input, shape in zip(noise, shapes)
        ],
    }


def export_denoiser(module: torch.nn.Module, path: Path, opset: int) -> dict[str, Any]:
    """`module`: forward(audio (B, N), strength (1,)) -> (B, N), with its default ``strength``."""
    axes = {"audio": {0: "batch", 1: "samples"}, "denoised": {0: "batch", 1: "samples"}}
    args = (torch.zeros(2, 2048), torch.tensor([float(module.strength)]))
    graph = export_graph(module, args, path, opset, axes, outputs=("denoised",))
    return {"graph": graph, "strength": float(module.strength)}
