"""``runtime=onnxruntime``: the acoustic model, vocoder and denoiser built from an export
directory instead of torch weights; the frontend, the engine and the outputs are unchanged.

The manifest decides which components they are. Decoding behaviour comes from the config's
stage nodes as with torch (acoustic.max_decoder_steps, gate_threshold, early_stopping,
prenet_dropout, the frame budget, fine_structure_gain; vocoder.sigma; denoiser.strength), and
from the export's values where the node has no such key (say ``vocoder.sigma`` when the
config's vocoder is Griffin-Lim). A learned acoustic.postfilter is one of the export's graphs:
the config must name one exactly where the export has it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from omegaconf import OmegaConf

from ... import draws
from ...draws import Generators
from ...errors import ConfigError
from ...registry import BuildContext
from ...runtime import Runtime
from ...stages import Denoiser, Vocoder
from ..tacotron2.model import BEHAVIOUR
from .manifest import check_symbols, checked_file, read_manifest
from .session import check_quantize, open_session, quantized_int8
from .tacotron2_runtime import OnnxTacotron2


def build_onnxruntime(cfg: Any, context: BuildContext) -> "OnnxRuntime":
    """Factory for ``runtime: {name: onnxruntime, dir: DIR, quantize: none|int8|null}``."""
    if context.precision.name != "fp32":
        raise ConfigError(
            f"runtime=onnxruntime runs the exported fp32 graphs, not "
            f"precision={context.precision.name} (a torch setting): use runtime.quantize=int8 "
            f"for a faster decoder"
        )
    directory, manifest = read_manifest(cfg.dir)
    return OnnxRuntime(directory, manifest, cfg.quantize)


class OnnxRuntime(Runtime):
    """Builds each stage from the export in `directory` (its `manifest` read and checked);
    `quantize` (None: the run's ``quantize``) is int8 for the decoder step or none."""

    def __init__(self, directory: Path, manifest: dict[str, Any], quantize: str | None):
        self.directory, self.manifest, self.quantize = directory, manifest, quantize

    def build(self, registry: Any, kind: str, node: Any, context: BuildContext) -> Any:
        entry = self.manifest.get(kind)
        if entry is None:
            raise ConfigError(f"{self.directory / 'manifest.json'} has no {kind} entry: export again")
        if entry["runs_in"] is None:  # no denoiser
            return None
        if entry["runs_in"] == "torch":  # no weights, no ONNX form: Griffin-Lim
            return registry.build(kind, OmegaConf.create(entry["config"]), context)
        build = {"acoustic": self._acoustic, "vocoder": self._vocoder, "denoiser": self._denoiser}[kind]
        return build(entry, node, context)

    def _session(self, graph: Mapping[str, Any], context: BuildContext, model: Any = None) -> Any:
        """A session of `graph` (or of `model`, its serialised form) on the run's device."""
        path = checked_file(self.directory, self.manifest, graph["file"])
        threads = getattr(context.device, "threads", None)
        return open_session(path if model is None else model, _device_type(context), threads)

    def _acoustic(self, entry: dict[str, Any], node: Any, context: BuildContext) -> OnnxTacotron2:
        if context.frontend is not None:
            check_symbols(self.manifest, context.frontend.symbols)
        quantize = check_quantize(self.quantize or context.precision.quantize, _device_type(context))
        graphs = entry["graphs"]
        check_postfilter(node, "postfilter" in graphs, self.directory)
        sessions = {name: self._session(graph, context) for name, graph in graphs.items()}
        reference = None
        if quantize == "int8":  # the decoder step only: int8 made the other graphs slower
            reference = sessions["decoder_step"]
            step = quantized_int8(self.directory / graphs["decoder_step"]["file"])
            sessions["decoder_step"] = self._session(graphs["decoder_step"], context, step)
        behaviour = {key: _option(node, entry, key) for key in BEHAVIOUR}
        behaviour = {key: value for key, value in behaviour.items() if value is not None}  # older exports
        step_format = "int8" if quantize == "int8" else "float32"
        return OnnxTacotron2(sessions, entry, behaviour, step_format, reference)

    def _vocoder(self, entry: dict[str, Any], node: Any, context: BuildContext) -> "OnnxVocoder":
        return OnnxVocoder(self._session(entry["graph"], context), entry, _option(node, entry, "sigma"))

    def _denoiser(self, entry: dict[str, Any], node: Any, context: BuildContext) -> "OnnxDenoiser":
        strength = float(_option(node, entry, "strength"))
        if strength < 0:
            raise ConfigError(f"denoiser.strength must be >= 0 (got {strength}); 0.01 is a good default")
        return OnnxDenoiser(self._session(entry["graph"], context), strength, entry["context_frames"])


def check_postfilter(node: Any, exported: bool, directory: Path) -> None:
    """The config's acoustic.postfilter agrees with the export's graphs, or a ConfigError: the
    learned postfilter is a graph of the export, not an option at run time."""
    wanted = node.get("postfilter") if node is not None else None
    if bool(wanted) != exported:
        has = "a learned postfilter" if exported else "no learned postfilter"
        raise ConfigError(
            f"the export in {directory} has {has}, but acoustic.postfilter={wanted}: export "
            f"again with the postfilter wanted, or set acoustic.postfilter "
            f"{'to the one exported' if exported else '= null'}"
        )


def _device_type(context: BuildContext) -> str:
    return context.device.device.type if context.device is not None else "cpu"


def _option(node: Any, entry: Mapping[str, Any], key: str) -> Any:
    """The stage node's value of `key`, else the export's (None where an older export has none)."""
    value = node.get(key) if node is not None else None
    return entry.get(key) if value is None else value


class OnnxVocoder(Vocoder):
    """mel (B, n_mel, T) -> audio (B, T * hop_length) through an exported vocoder graph. A
    sampling vocoder's noise is drawn here as its torch form draws it: N(0, 1) per noise input
    (`noise_shapes`), in order, from the run's generator (the global RNG if None), times sigma;
    at sigma 0 a private generator is not drawn from (WaveGlow's rule)."""

    def __init__(self, session: Any, entry: Mapping[str, Any], sigma: float):
        super().__init__()
        self.session, self.noise, self.sigma = session, list(entry["noise"]), float(sigma)
        self.sample_rate, self.hop_length = int(entry["sample_rate"]), int(entry["hop_length"])
        self.n_mel_channels = int(entry["n_mel_channels"])
        context = entry.get("context_frames")
        self.context_frames = None if context is None else tuple(context)

    def formats(self) -> dict[str, str]:
        return {"runtime": f"onnxruntime ({self.session.get_providers()[0]})"}

    def noise_shapes(self, batch: int, frames: int) -> list[tuple[int, int, int]]:
        """Shapes of the N(0, 1) draws of `infer` for a (batch, n_mel, frames) mel (none for
        a vocoder that does not sample)."""
        return [(batch, n["channels"], frames * n["samples_per_frame"]) for n in self.noise]

    @torch.inference_mode()
    def infer(
        self,
        mel: torch.Tensor,
        generator: Generators = None,
        *,
        noise: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """mel (B, n_mel, T) -> audio (B, T * hop); `noise` gives the N(0, 1) draws instead."""
        shapes = self.noise_shapes(mel.size(0), mel.size(2))
        if noise is None:
            noise = [
                torch.zeros(shape) if self.sigma == 0 and generator is not None
                else draws.randn(shape, generator, mel.device)
                for shape in shapes
            ]
        feed = {"mel": mel.float().cpu().numpy()}
        for spec, draw in zip(self.noise, noise):
            feed[spec["input"]] = (self.sigma * draw).cpu().numpy()
        (audio,) = self.session.run(None, feed)
        return torch.from_numpy(audio).to(mel.device)


class OnnxDenoiser(Denoiser):
    """audio (B, N) -> audio (B, N) through an exported denoiser graph."""

    def __init__(self, session: Any, strength: float, context_frames: Sequence[int] | None):
        super().__init__()
        self.session, self.strength = session, float(strength)
        self.context_frames = None if context_frames is None else tuple(context_frames)

    @torch.inference_mode()
    def forward(self, audio: torch.Tensor, strength: float | None = None) -> torch.Tensor:
        strength = self.strength if strength is None else float(strength)
        feed = {"audio": audio.float().cpu().numpy(), "strength": np.array([strength], np.float32)}
        (denoised,) = self.session.run(None, feed)
        return torch.from_numpy(denoised).to(audio.device)
