"""``runtime=onnxruntime``: the stages built from an export directory instead of torch weights.

``conf/runtime/onnxruntime.yaml`` renames the acoustic, vocoder and denoiser nodes to ``onnx``
(keeping their other keys), so the pipeline builds these factories and the engine runs
unchanged. The manifest decides which components they are; decoding behaviour comes from the
config as with torch (acoustic.max_decoder_steps, gate_threshold, early_stopping,
prenet_dropout; vocoder.sigma; denoiser.strength), and from the export's values where the
config's node has no such key.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import OmegaConf

from ...errors import ConfigError
from ...registry import BuildContext
from ...stages import Denoiser, Vocoder
from .manifest import check_symbols, checked_file, read_manifest
from .session import check_quantize, open_session, quantized_int8
from .tacotron2_runtime import BEHAVIOUR, OnnxTacotron2


def _device(context: BuildContext) -> tuple[str, int | None]:
    """The device type and thread cap the sessions follow (``device=``, ``device.threads``)."""
    if context.device is None:
        return "cpu", None
    return context.device.device.type, getattr(context.device, "threads", None)


def _stage_entry(cfg: Mapping[str, Any], stage: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    directory, manifest = read_manifest(cfg.get("dir"))
    if stage not in manifest:
        raise ConfigError(f"{directory}/manifest.json has no {stage} entry: export again")
    return directory, manifest, manifest[stage]


def _option(cfg: Mapping[str, Any], entry: Mapping[str, Any], key: str) -> Any:
    value = cfg.get(key)
    return entry[key] if value is None else value


def build_onnx_acoustic(cfg: Mapping[str, Any], context: BuildContext) -> OnnxTacotron2:
    """Factory for ``acoustic: {name: onnx, dir: DIR, quantize: none|int8, ...}``."""
    directory, manifest, entry = _stage_entry(cfg, "acoustic")
    device_type, threads = _device(context)
    if context.precision.name != "fp32":
        raise ConfigError(
            f"runtime=onnxruntime runs the exported fp32 graphs, not "
            f"precision={context.precision.name} (a torch setting): use runtime.quantize=int8 "
            f"for a faster decoder"
        )
    if context.frontend is not None:
        check_symbols(manifest, context.frontend.symbols)
    quantize = check_quantize(str(cfg.get("quantize", "none")), device_type)
    paths = {name: checked_file(directory, manifest, graph["file"]) for name, graph in entry["graphs"].items()}
    sessions = {name: open_session(path, device_type, threads) for name, path in paths.items()}
    reference = None
    if quantize == "int8":  # the decoder step only: int8 made the other graphs slower (docs/deploy.md)
        reference = sessions["decoder_step"]
        step = quantized_int8(paths["decoder_step"])
        sessions["decoder_step"] = open_session(step, device_type, threads)
    behaviour = {key: _option(cfg, entry, key) for key in BEHAVIOUR}
    step_format = "int8" if quantize == "int8" else "float32"
    return OnnxTacotron2(sessions, entry, behaviour, step_format, reference)


class OnnxVocoder(Vocoder):
    """mel (B, n_mel, T) -> audio (B, T * hop_length) through an exported vocoder graph; a
    sampling vocoder's noise is drawn here, as its torch form draws it: sigma * N(0, 1) per
    noise input in order from the run's generator, nothing drawn at sigma 0."""

    def __init__(self, session: Any, entry: Mapping[str, Any], sigma: float):
        super().__init__()
        self.session, self.noise, self.sigma = session, list(entry["noise"]), float(sigma)
        self.sample_rate, self.hop_length = int(entry["sample_rate"]), int(entry["hop_length"])
        self.n_mel_channels = int(entry["n_mel_channels"])

    def formats(self) -> dict[str, str]:
        return {"runtime": f"onnxruntime ({self.session.get_providers()[0]})"}

    @torch.inference_mode()
    def infer(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        batch, frames = mel.size(0), mel.size(2)
        feed = {"mel": mel.float().cpu().numpy()}
        for noise in self.noise:
            shape = (batch, noise["channels"], frames * noise["samples_per_frame"])
            if self.sigma == 0:
                draw = torch.zeros(shape)
            else:
                draw = self.sigma * torch.randn(shape, generator=generator, device=mel.device)
            feed[noise["input"]] = draw.cpu().numpy()
        (audio,) = self.session.run(None, feed)
        return torch.from_numpy(audio).to(mel.device)


def build_onnx_vocoder(cfg: Mapping[str, Any], context: BuildContext) -> Vocoder:
    """Factory for ``vocoder: {name: onnx, dir: DIR, ...}``: the exported graph, or a vocoder
    exported by its config (no weights, no ONNX form: Griffin-Lim) built in torch."""
    directory, manifest, entry = _stage_entry(cfg, "vocoder")
    if entry["runs_in"] == "torch":
        from ...plugins import get_registry

        return get_registry().build("vocoder", OmegaConf.create(entry["config"]), context)
    path = checked_file(directory, manifest, entry["graph"]["file"])
    session = open_session(path, *_device(context))
    return OnnxVocoder(session, entry, float(_option(cfg, entry, "sigma")))


class OnnxDenoiser(Denoiser):
    """audio (B, N) -> audio (B, N) through an exported denoiser graph."""

    def __init__(self, session: Any, strength: float):
        super().__init__()
        self.session, self.strength = session, float(strength)

    @torch.inference_mode()
    def forward(self, audio: torch.Tensor, strength: float | None = None) -> torch.Tensor:
        strength = self.strength if strength is None else float(strength)
        feed = {"audio": audio.float().cpu().numpy(), "strength": np.array([strength], np.float32)}
        (denoised,) = self.session.run(None, feed)
        return torch.from_numpy(denoised).to(audio.device)


def build_onnx_denoiser(cfg: Mapping[str, Any], context: BuildContext) -> OnnxDenoiser | None:
    """Factory for ``denoiser: {name: onnx, dir: DIR, ...}``: the exported denoiser, or None."""
    directory, manifest, entry = _stage_entry(cfg, "denoiser")
    if entry["runs_in"] is None:
        return None
    path = checked_file(directory, manifest, entry["graph"]["file"])
    strength = float(_option(cfg, entry, "strength"))
    if strength < 0:
        raise ConfigError(f"denoiser.strength must be >= 0 (got {strength}); 0.01 is a good default")
    return OnnxDenoiser(open_session(path, *_device(context)), strength)
