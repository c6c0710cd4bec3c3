"""The ``tacotron2`` acoustic model factory: a config node -> a Tacotron2 with its weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import ConfigError
from ...quantize import check_quantize
from ...registry import BuildContext
from ...weights.option import from_checkpoint_option
from ...weights.store import resolve_checkpoint
from .load import load_tacotron2
from .model import Tacotron2, Tacotron2Config
from .postfilter import load_postfilter


def build_tacotron2(cfg: Mapping[str, Any], context: BuildContext) -> Tacotron2:
    """Factory for the ``acoustic: {name: tacotron2, checkpoint: ..., ...}`` config node.

    ``context.precision``: quantize int8, else the precision, is the decoder's weight format;
    ``postfilter`` (a shipped name or a path) loads a learned `MelPostfilter` after the postnet."""
    options = dict(cfg)
    options.pop("name", None)
    checkpoint = options.pop("checkpoint", None)
    init_seed = options.pop("init_seed", 0)
    graph_steps = options.pop("cuda_graph_steps", 0)
    postfilter = options.pop("postfilter", None)
    if not isinstance(graph_steps, int) or graph_steps < 0:
        raise ConfigError(
            f"acoustic.cuda_graph_steps (decoder steps per CUDA graph; 0 = no graphs) must be a "
            f"whole number >= 0, got {graph_steps!r}"
        )
    device_type = context.device.device.type if context.device is not None else "cpu"
    quantize = check_quantize(context.precision.quantize, device_type)
    config = Tacotron2Config.from_mapping(options)
    symbols = getattr(context.frontend, "symbols", None)
    model = from_checkpoint_option(
        checkpoint, "acoustic.checkpoint", "a Tacotron2 .pt file", init_seed,
        build_random=lambda: Tacotron2(config).eval(),
        load=lambda path: load_tacotron2(
            path, n_symbols=len(symbols) if symbols else None, **config.behaviour()
        ),
    )
    if postfilter is not None:
        model.postfilter = load_postfilter(resolve_checkpoint(postfilter), model.n_mel_channels)
    # the decoder streams all its weights every step: int8 / bf16 storage makes it faster
    model.decoder.weight_format = "int8" if quantize == "int8" else context.precision.name
    model.decoder.cuda_graph_steps = graph_steps
    return model
