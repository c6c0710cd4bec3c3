"""Why a piece cannot be spoken: the engine's checks' messages, the same for synthesis and
for streams (and so for the CLI, the API, the benchmark and the server)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .components.tacotron2.budget import budget_frames
from .results import Piece

if TYPE_CHECKING:
    from .pipeline import Pipeline

NAN_MEL = "the acoustic model produced NaN or Inf in the mel"
CUT_OFF = "its speech is cut off there (raise acoustic.max_decoder_steps, or shorten the sentence)"


def nan_audio(pipeline: "Pipeline") -> str:
    stage = "vocoder" if pipeline.denoiser is None else "vocoder or denoiser"
    return f"the {stage} produced NaN or Inf in the audio"


def no_frames(piece: Piece) -> str:
    return f"the acoustic model made no frames for {preview(piece.text)} (it stopped at once)"


def cut(piece: Piece, pipeline: "Pipeline") -> str:
    """``line 3, sentence 2 ('...') reached acoustic.max_decoder_steps=N``, or, when the
    frame budget (acoustic.max_frames_per_symbol) was the lower limit, ``... reached its
    frame budget of F frames (acoustic.max_frames_per_symbol=X x S symbols + ...)``"""
    where = f"line {piece.line + 1}, sentence {piece.number + 1} ({preview(piece.text)})"
    max_steps = pipeline.cfg.acoustic.get("max_decoder_steps")
    config = getattr(pipeline.acoustic, "config", None)  # a Tacotron2's (torch or onnxruntime)
    per_symbol = getattr(config, "max_frames_per_symbol", None)
    if per_symbol is not None:
        r, base = config.n_frames_per_step, config.frame_budget_base
        frames = budget_frames(len(piece.ids), r, per_symbol, base)
        if frames < config.max_decoder_steps * r:
            return (
                f"{where} reached its frame budget of {frames} frames "
                f"(acoustic.max_frames_per_symbol={per_symbol:g} x {len(piece.ids)} symbols"
                f" + acoustic.frame_budget_base={base:g})"
            )
    return f"{where} reached acoustic.max_decoder_steps={max_steps}"


def preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
