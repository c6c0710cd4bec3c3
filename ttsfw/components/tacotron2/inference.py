"""What every form of Tacotron2 (the torch model, the onnxruntime one) offers on top of its
``infer_full``: its outputs, DLE's ``infer`` triple, the pipeline's ``mels`` and how a decoder
weight format's mel is compared with fp32's."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import torch

from ...draws import Generators
from ...stages import AcousticModel, MelBatch


@dataclass
class Tacotron2Output:
    """Everything one inference produces; items in the caller's order."""

    mel_postnet: torch.Tensor  # (B, n_mel, T_out) the model's output, T_out = T_steps * r
    mel_lengths: torch.Tensor  # (B,) int32 valid frames, a multiple of r (stop step excluded, DLE)
    alignments: torch.Tensor  # (B, T_steps, T_in) attention weights per step, zero at padding
    mel: torch.Tensor  # (B, n_mel, T_out) decoder output before the postnet
    gate: torch.Tensor  # (B, T_steps) stop-gate logits
    encoder_outputs: torch.Tensor  # (B, T_in, encoder_embedding_dim), zero at padding
    #: caller indices of the items whose gate never fired within their step limit
    #: (max_decoder_steps, or the frame budget: budget.py)
    hit_max_steps: list[int]


class Tacotron2Inference(AcousticModel):
    """A Tacotron2 form: `infer_full` is its own; `infer` and `mels` follow from it."""

    @abstractmethod
    def infer_full(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        generator: Generators = None,
        *,
        prenet_dropout: bool | None = None,
    ) -> Tacotron2Output:
        """ids (B, T_in), lengths (B,) -> every output, items in the caller's order.
        `generator` drives prenet dropout (None: the global RNG; a list: one per row),
        `prenet_dropout` switches it for this call (None: the model's own setting)."""

    def infer(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        generator: Generators = None,
        *,
        prenet_dropout: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ids (B, T_in), lengths (B,) -> mel (B, n_mel, T_out), mel_lengths (B,) int32,
        alignments (B, T_steps, T_in) with T_out = T_steps * r (DLE's ``infer`` outputs);
        arguments as in `infer_full`."""
        out = self.infer_full(ids, lengths, generator, prenet_dropout=prenet_dropout)
        return out.mel_postnet, out.mel_lengths, out.alignments

    def mels(self, ids: torch.Tensor, lengths: torch.Tensor, generator: Generators = None) -> MelBatch:
        """`infer` typed for the pipeline, with the rows whose gate never fired."""
        out = self.infer_full(ids, lengths, generator)
        return MelBatch(out.mel_postnet, out.mel_lengths, out.alignments, out.hit_max_steps)


def mel_deviation(mel: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """max and mean |mel - reference| (B, n_mel, T) over the frames both runs made."""
    frames = min(mel.size(2), reference.size(2))
    diff = (mel[:, :, :frames] - reference[:, :, :frames]).abs()
    return {"mel_max_abs_deviation": float(diff.max()), "mel_mean_abs_deviation": float(diff.mean())}
