"""WaveGlow checkpoint formats: the reference layouts (DLE and NVIDIA/waveglow, weight norm as
``weight_g``/``weight_v``, per-layer or fused conditioning convs) <-> this package's inference
form (weight norm folded, one ``cond_layer`` per WN). Both directions are exact: weight norm is
per output channel, so folding and concatenating commute. Sizes come from tensor shapes only.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import torch

from ...errors import CheckpointError

#: convolutions that carry weight norm in the reference checkpoints (inference-form key names)
WEIGHT_NORMED = re.compile(
    r"^WN\.\d+\.(start|cond_layer|in_layers\.\d+|res_skip_layers\.\d+)\.weight$"
)
_COND_LAYERS = re.compile(r"^(WN\.\d+\.)cond_layers\.(\d+)\.(weight|bias)$")


def architecture_from_tensors(tensors: Mapping[str, torch.Tensor], source: str = "state dict") -> dict[str, int]:
    """The sizes of an inference-form state dict (see `inference_state_dict`), as
    `WaveGlowConfig` keyword arguments."""

    def shape(key: str) -> torch.Size:
        if key not in tensors:
            sample = ", ".join(list(tensors)[:4])
            raise CheckpointError(
                f"{source} is not a WaveGlow checkpoint: no '{key}' (keys start: {sample})"
            )
        return tensors[key].shape

    n_mel_channels = shape("upsample.weight")[0]
    shape("convinv.0.conv.weight")
    sizes = [
        tensors[f"convinv.{k}.conv.weight"].shape[0]
        for k in range(_count(tensors, "convinv.{}.conv.weight"))
    ]
    drops = [k for k in range(1, len(sizes)) if sizes[k] != sizes[0]]
    in_layer = shape("WN.0.in_layers.0.weight")
    return dict(
        n_mel_channels=n_mel_channels,
        n_flows=len(sizes),
        n_group=sizes[0],
        n_early_every=drops[0] if drops else len(sizes),
        n_early_size=sizes[0] - sizes[drops[0]] if drops else 0,
        n_layers=_count(tensors, "WN.0.in_layers.{}.weight"),
        kernel_size=in_layer[2],
        n_channels=shape("WN.0.start.weight")[0],
    )


def _count(tensors: Mapping[str, Any], pattern: str) -> int:
    n = 0
    while pattern.format(n) in tensors:
        n += 1
    return n


def inference_state_dict(
    tensors: Mapping[str, torch.Tensor], source: str = "state dict"
) -> dict[str, torch.Tensor]:
    """Reference WaveGlow tensors -> this module's keys: float32, contiguous, weight norm folded
    (``weight = g * v / ||v||``, torch's own kernel), per-layer ``cond_layers.i`` concatenated
    into ``cond_layer``. Both steps are exact."""
    if any(".res_layers." in key or ".skip_layers." in key for key in tensors):
        raise CheckpointError(
            f"{source}: a pre-2018-11 NVIDIA/waveglow layout (separate res_layers/skip_layers); "
            f"update it with NVIDIA/waveglow's convert_model.py, then convert it here"
        )
    folded: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        value = value.detach().float().contiguous() if value.is_floating_point() else value
        if key.endswith(("_g", "_v")) and key[:-2].endswith(".weight"):
            base = key[:-2]
            if base + "_g" in tensors and base + "_v" in tensors:
                if base not in folded:
                    g, v = tensors[base + "_g"].float(), tensors[base + "_v"].float().contiguous()
                    folded[base] = torch._weight_norm(v, g, 0)
                continue
        folded[key] = value
    fused: dict[str, torch.Tensor] = {}
    pieces: dict[str, list[tuple[int, torch.Tensor]]] = {}
    for key, value in folded.items():
        match = _COND_LAYERS.match(key)
        if match is None:
            fused[key] = value
        else:
            prefix, index, name = match.groups()
            pieces.setdefault(f"{prefix}cond_layer.{name}", []).append((int(index), value))
    for key, parts in pieces.items():
        fused[key] = torch.cat([value for _, value in sorted(parts, key=lambda part: part[0])])
    return fused


def reference_layout(tensors: Mapping[str, torch.Tensor], n_layers: int, layout: str = "dle") -> dict[str, torch.Tensor]:
    """Inference-form tensors -> the reference's: weight norm as ``weight_g``/``weight_v``
    (g = per-output-channel norm, v = weight, as torch's weight_norm sets up a layer) and the
    conditioning convs per layer (``"dle"``: DLE, NVIDIA glow_old) or fused (``"fused"``:
    NVIDIA glow.py). No ``module.`` prefix."""
    if layout not in ("dle", "fused"):
        raise ValueError(f"layout must be 'dle' or 'fused', got {layout!r}")
    reference: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        if WEIGHT_NORMED.match(key):
            dims = tuple(range(1, value.dim()))
            reference[key + "_g"] = torch.linalg.vector_norm(value, dim=dims, keepdim=True)
            reference[key + "_v"] = value
        else:
            reference[key] = value
    if layout == "fused":
        return reference
    split = {}
    for key, value in reference.items():
        prefix, cond, suffix = key.partition(".cond_layer.")
        if not cond:
            split[key] = value
            continue
        for i, chunk in enumerate(value.chunk(n_layers)):
            split[f"{prefix}.cond_layers.{i}.{suffix}"] = chunk
    return split
