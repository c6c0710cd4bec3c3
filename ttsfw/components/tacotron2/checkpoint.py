"""Reading NVIDIA Tacotron2 checkpoints: architecture from a state dict, and checks whose
errors say which tensor is wrong and why.

Handles DLE/NGC files (``{epoch, config, state_dict}``, ``module.`` prefixes), torch.hub files
and NVIDIA/tacotron2 ``tacotron2_statedict.pt`` (``{'state_dict'}``, no config, possibly no
BatchNorm ``num_batches_tracked``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from ...errors import CheckpointError

#: a 149-row embedding is the symbol table NVIDIA/tacotron2 used before 2018-11-25
_OLD_SYMBOL_TABLES = {149: "a pre-2018-11 NVIDIA/tacotron2 checkpoint"}


def architecture_from_tensors(
    state_dict: Mapping[str, torch.Tensor], path: str | Path
) -> dict[str, int]:
    """Every Tacotron2 dimension (NVIDIA hparams names), read from tensor shapes."""

    def shape(key: str) -> torch.Size:
        if key not in state_dict:
            raise CheckpointError(_not_tacotron2(state_dict, path, key))
        return state_dict[key].shape

    n_symbols, symbols_embedding_dim = shape("embedding.weight")
    encoder_dim, _, encoder_kernel = shape("encoder.convolutions.0.0.conv.weight")
    prenet_dim, prenet_in = shape("decoder.prenet.layers.0.linear_layer.weight")
    projection_out = shape("decoder.linear_projection.linear_layer.weight")[0]
    n_filters, _, location_kernel = shape(
        "decoder.attention_layer.location_layer.location_conv.conv.weight"
    )
    postnet_dim, n_mel, postnet_kernel = shape("postnet.convolutions.0.0.conv.weight")
    return dict(
        n_symbols=n_symbols,
        symbols_embedding_dim=symbols_embedding_dim,
        encoder_kernel_size=encoder_kernel,
        encoder_n_convolutions=_count(state_dict, "encoder.convolutions"),
        encoder_embedding_dim=encoder_dim,
        attention_rnn_dim=shape("decoder.attention_rnn.weight_hh")[1],
        attention_dim=shape("decoder.attention_layer.query_layer.linear_layer.weight")[0],
        attention_location_n_filters=n_filters,
        attention_location_kernel_size=location_kernel,
        n_frames_per_step=_frames_per_step(prenet_in, projection_out, n_mel, path),
        decoder_rnn_dim=shape("decoder.decoder_rnn.weight_hh")[1],
        prenet_dim=prenet_dim,
        postnet_embedding_dim=postnet_dim,
        postnet_kernel_size=postnet_kernel,
        postnet_n_convolutions=_count(state_dict, "postnet.convolutions"),
        n_mel_channels=n_mel,
    )


def _frames_per_step(prenet_in: int, projection_out: int, n_mel: int, path: str | Path) -> int:
    """r, from the prenet's input (the previous step's n_mel * r frames) and the mel
    projection's output (the step's n_mel * r frames), which must agree."""
    if prenet_in != projection_out or prenet_in % n_mel:
        raise CheckpointError(
            f"{path}: the decoder's prenet reads {prenet_in} values and its mel projection "
            f"writes {projection_out}; both must be n_mel_channels ({n_mel}) x "
            f"n_frames_per_step (edited or damaged file?)"
        )
    return prenet_in // n_mel


def check_state_dict(
    expected: Mapping[str, torch.Tensor],
    found: Mapping[str, torch.Tensor],
    path: str | Path,
    built_from: str,
) -> None:
    """Raise CheckpointError unless `found` has every key of `expected` with the same shape.

    A missing BatchNorm ``num_batches_tracked`` is fine (files written by torch < 0.4.1).
    `built_from` says where the expected shapes came from, for the message.
    """
    missing = [k for k in expected if k not in found and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in found if k not in expected]
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: the tensors do not fit a Tacotron2 built from {built_from}: "
            f"missing {_few(missing)}, unexpected {_few(unexpected)}"
        )
    for key, tensor in expected.items():
        if key in found and found[key].shape != tensor.shape:
            cause = _likely_cause(key, found[key], tensor, built_from)
            raise CheckpointError(
                f"{path}: {key} has shape {tuple(found[key].shape)} in the checkpoint but "
                f"{tuple(tensor.shape)} is expected: {cause}"
            )


def _likely_cause(key: str, found: torch.Tensor, expected: torch.Tensor, built_from: str) -> str:
    if key == "embedding.weight" and found.shape[0] != expected.shape[0]:
        rows = found.shape[0]
        origin = _OLD_SYMBOL_TABLES.get(rows, "a checkpoint")
        return (
            f"a {rows}-row embedding is {origin} trained with a different symbol table than "
            f"the {expected.shape[0]} symbols expected; use a frontend with the checkpoint's "
            f"symbol table"
        )
    return (
        f"the model was built from {built_from}, which disagrees with this tensor "
        f"(edited or damaged file?)"
    )


def _not_tacotron2(state_dict: Mapping[str, torch.Tensor], path: str | Path, key: str) -> str:
    guess = ""
    if any(k.startswith("WN.") for k in state_dict):
        guess = "; it looks like a WaveGlow checkpoint: set it as vocoder.checkpoint"
    keys = _few(list(state_dict))
    return f"{path} is not a Tacotron2 checkpoint: it has no '{key}' (keys: {keys}){guess}"


def _count(state_dict: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(rf"{re.escape(prefix)}\.(\d+)\.")
    return len({m.group(1) for k in state_dict if (m := pattern.match(k))})


def _few(keys: list[str], n: int = 4) -> str:
    if not keys:
        return "none"
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more
