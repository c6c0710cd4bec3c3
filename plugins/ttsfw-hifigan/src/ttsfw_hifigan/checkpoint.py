"""jik876/hifi-gan generator files: ``{'generator': state_dict}`` plus ``config.json`` beside.

Weights may come in any of three conventions: old weight norm (``weight_g``/``weight_v``, the
released files), new weight norm (``parametrizations.weight.original0/1``) or already folded
(``weight``). They are loaded as saved and folded with torch's own weight-norm code, so the
folded weights are bitwise those of the reference's ``remove_weight_norm()``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrizations, parametrize

from ttsfw.errors import CheckpointError
from ttsfw.weights import load_checkpoint, unwrap

#: config.json fields that define the architecture (they override the YAML variant)
ARCH_FIELDS = (
    "resblock",
    "upsample_rates",
    "upsample_kernel_sizes",
    "upsample_initial_channel",
    "resblock_kernel_sizes",
    "resblock_dilation_sizes",
)


def read_config_json(path: Path) -> dict[str, Any]:
    """`generator_options` of a jik876 ``config.json`` file."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable HiFi-GAN config.json ({exc})") from None
    return generator_options(config, str(path))


def generator_options(config: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A jik876 config (config.json's fields, or the ``h`` its scripts pass around) ->
    `Generator` keyword arguments: ARCH_FIELDS, and ``sample_rate`` / ``n_mel_channels`` from
    ``sampling_rate`` / ``num_mels`` where given."""
    missing = [key for key in ARCH_FIELDS if key not in config]
    if missing:
        raise CheckpointError(f"{source} lacks the HiFi-GAN field(s) {', '.join(missing)}")
    hop = math.prod(config["upsample_rates"])
    if "hop_size" in config and config["hop_size"] != hop:
        raise CheckpointError(
            f"{source}: hop_size {config['hop_size']} differs from prod(upsample_rates) = {hop}; "
            f"this config does not describe a usable generator"
        )
    options = {key: config[key] for key in ARCH_FIELDS}
    if "sampling_rate" in config:
        options["sample_rate"] = int(config["sampling_rate"])
    if "num_mels" in config:
        options["n_mel_channels"] = int(config["num_mels"])
    return options


def read_generator_file(path: Path) -> dict[str, torch.Tensor]:
    """The generator state dict of a jik876 ``g_XXXXXXXX``/``generator_vN`` file (or a bare one)."""
    obj = load_checkpoint(path, map_location="cpu")
    if isinstance(obj, Mapping) and isinstance(obj.get("generator"), Mapping):
        obj = obj["generator"]
    elif isinstance(obj, Mapping) and {"mpd", "msd"} & set(obj):
        raise CheckpointError(
            f"{path} holds HiFi-GAN discriminators (a do_XXXXXXXX file); use the generator file "
            f"(g_XXXXXXXX) from the same folder"
        )
    state_dict, _ = unwrap(obj, path)
    return state_dict


def load_weights(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """Load `state_dict` (any weight-norm convention) into `model`'s plain convs, folded."""
    folded = not any(key.endswith(("weight_g", "original0")) for key in state_dict)
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]
    if not folded:
        for conv in convs:
            parametrizations.weight_norm(conv)  # dim 0, as the reference's weight_norm
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{source} does not fit this HiFi-GAN architecture ({_summary(exc)}); put the "
            f"checkpoint's config.json beside it, or pick the matching vocoder=hifigan_v1/v2/v3"
        ) from None
    if not folded:
        for conv in convs:
            parametrize.remove_parametrizations(conv, "weight")


def _summary(exc: RuntimeError) -> str:
    lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
    text = "; ".join(lines) or str(exc)
    return text if len(text) <= 300 else text[:297] + "..."
