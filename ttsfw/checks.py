"""Why a piece cannot be spoken: the engine's checks' messages, the same for synthesis and
for streams (and so for the CLI, the API, the benchmark and the server)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    """``line 3, sentence 2 ('...') reached acoustic.max_decoder_steps=N``"""
    where = f"line {piece.line + 1}, sentence {piece.number + 1} ({preview(piece.text)})"
    return f"{where} reached acoustic.max_decoder_steps={pipeline.cfg.acoustic.get('max_decoder_steps')}"


def preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
