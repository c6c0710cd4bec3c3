"""`load_tacotron2`: a DLE/NGC, torch.hub or NVIDIA/tacotron2 file -> a Tacotron2 for inference."""

from __future__ import annotations

from pathlib import Path

from ...weights.load import load_checkpoint, unwrap
from .checkpoint import architecture_from_tensors, check_state_dict
from .model import BEHAVIOUR, Tacotron2, Tacotron2Config

#: the decoding settings as a file's config may hold them (DLE's constructor kwargs)
_STORED = (*BEHAVIOUR, "decoder_no_early_stopping")


def load_tacotron2(
    path: str | Path,
    *,
    max_decoder_steps: int | None = None,
    gate_threshold: float | None = None,
    early_stopping: bool | None = None,
    prenet_dropout: bool | None = None,
    max_frames_per_symbol: float | None = None,
    frame_budget_base: float | None = None,
    fine_structure_gain: float | None = None,
    n_symbols: int | None = None,
) -> Tacotron2:
    """Load a checkpoint file into an fp32 CPU model in eval mode.

    The architecture comes from the file (its config, else its tensor shapes). A decoding
    setting left None comes from the file's config, as torch.hub does (DLE files store
    ``max_decoder_steps``, ``gate_threshold``, ``decoder_no_early_stopping``), else from
    `Tacotron2Config`'s defaults. `n_symbols`, the frontend's symbol count, is checked if given.
    """
    state_dict, file_config = unwrap(load_checkpoint(path, map_location="cpu"), path)
    architecture = architecture_from_tensors(state_dict, path)
    built_from = "its tensor shapes"
    if file_config:
        architecture.update({k: file_config[k] for k in architecture if k in file_config})
        built_from = "the file's config"
    if n_symbols is not None:
        architecture["n_symbols"] = n_symbols
    stored = {k: v for k, v in (file_config or {}).items() if k in _STORED}
    told = dict(
        max_decoder_steps=max_decoder_steps,
        gate_threshold=gate_threshold,
        early_stopping=early_stopping,
        prenet_dropout=prenet_dropout,
        max_frames_per_symbol=max_frames_per_symbol,
        frame_budget_base=frame_budget_base,
        fine_structure_gain=fine_structure_gain,
    )
    behaviour = Tacotron2Config.from_mapping(stored).behaviour()
    behaviour.update({k: v for k, v in told.items() if v is not None})
    model = Tacotron2(Tacotron2Config(**architecture, **behaviour))
    check_state_dict(model.state_dict(), state_dict, path, built_from)
    model.load_state_dict(state_dict, strict=False)  # copies cast fp16 files to fp32
    return model.eval()
