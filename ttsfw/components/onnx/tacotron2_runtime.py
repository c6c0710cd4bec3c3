"""The exported Tacotron2 on onnxruntime: an AcousticModel that the pipeline runs like the
torch one. The decoding loop is the torch model's (DLE ``infer``): rows longest first, per-row
stop with DLE ``mel_lengths``, rows that stopped decoded on until the batch ends, prenet
dropout drawn from the same generator in the same order, so seeded runs match torch.

Shapes: B = batch, T_in = input symbols, T_steps = decoder steps, R = n_mel * r.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ...stages import AcousticModel, MaxDecoderStepsWarning, MelBatch
from ..tacotron2.model import Tacotron2Output, check_inputs
from .tacotron2_graphs import PRENET_MASKS, STATE

#: decoding options a run may change (the config's acoustic node, else the export's values)
BEHAVIOUR = ("max_decoder_steps", "gate_threshold", "early_stopping", "prenet_dropout")


class OnnxTacotron2(AcousticModel):
    """Symbol ids -> mel through ``encoder``, ``decoder_step`` and ``postnet`` sessions.

    `entry` is the manifest's ``acoustic`` entry, `behaviour` the BEHAVIOUR options; with
    `reference_step` (the fp32 step where `sessions["decoder_step"]` is quantised) the model
    can report its deviation from fp32 (``deviation_from_fp32``)."""

    def __init__(
        self,
        sessions: dict[str, Any],
        entry: dict[str, Any],
        behaviour: dict[str, Any],
        step_format: str = "float32",
        reference_step: Any = None,
    ):
        super().__init__()
        self.sessions, self.step_format, self.reference_step = sessions, step_format, reference_step
        self.n_mel_channels = int(entry["n_mel_channels"])
        self.sample_rate, self.hop_length = int(entry["sample_rate"]), int(entry["hop_length"])
        self.r, self.prenet_dim = int(entry["n_frames_per_step"]), int(entry["prenet_dim"])
        self.n_symbols = int(entry["n_symbols"])
        self.max_decoder_steps = int(behaviour["max_decoder_steps"])
        self.gate_threshold = float(behaviour["gate_threshold"])
        self.early_stopping = bool(behaviour["early_stopping"])
        self.prenet_dropout = bool(behaviour["prenet_dropout"])
        self.state_sizes = {
            name: spec["shape"][-1]
            for name, spec in entry["graphs"]["decoder_step"]["inputs"].items()
            if name in STATE
        }

    def formats(self) -> dict[str, str]:
        providers = self.sessions["decoder_step"].get_providers()
        return {"runtime": f"onnxruntime ({providers[0]})", "decoder steps": self.step_format}

    @torch.inference_mode()
    def infer_full(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        prenet_dropout: bool | None = None,
        step_session: Any = None,
    ) -> Tacotron2Output:
        """ids (B, T_in), lengths (B,) -> every output, rows in the caller's order (as
        ``Tacotron2.infer_full``); `generator` drives prenet dropout (None: the global RNG),
        `prenet_dropout` switches it for this call (None: the model's setting), `step_session`
        replaces the decoder step's session (None: the model's)."""
        check_inputs(ids, lengths, self.n_symbols)
        dropout = self.prenet_dropout if prenet_dropout is None else prenet_dropout
        step_session = step_session or self.sessions["decoder_step"]
        device = ids.device
        ids, lengths = ids.cpu(), lengths.cpu()
        order = torch.argsort(lengths, descending=True, stable=True)
        restore = torch.argsort(order)
        lengths = lengths[order]
        width = int(lengths[0])
        memory, processed = self.sessions["encoder"].run(
            None, {"ids": ids[order, :width].numpy(), "lengths": lengths.numpy()}
        )
        pad_mask = (torch.arange(width) >= lengths.unsqueeze(1)).numpy()
        frames, gate, alignments, mel_lengths = self._decode(
            memory, processed, pad_mask, dropout, generator, step_session
        )
        (mel_postnet,) = self.sessions["postnet"].run(None, {"mel": frames.numpy()})
        mel_lengths = mel_lengths[restore]
        hit = (mel_lengths == self.max_decoder_steps * self.r).nonzero().flatten().tolist()
        if hit and self.early_stopping:
            warnings.warn(MaxDecoderStepsWarning(hit, self.max_decoder_steps, self.r), stacklevel=3)
        extra = ids.size(1) - width
        return Tacotron2Output(
            mel_postnet=torch.from_numpy(mel_postnet)[restore].to(device),
            mel_lengths=mel_lengths.to(device),
            alignments=F.pad(alignments, (0, extra))[restore].to(device),
            mel=frames[restore].to(device),
            gate=gate[restore].to(device),
            encoder_outputs=F.pad(torch.from_numpy(memory), (0, 0, 0, extra))[restore].to(device),
            hit_max_steps=hit,
        )

    def _decode(self, memory, processed, pad_mask, dropout, generator, step_session):
        """The decoder loop over `step_session` -> mel (B, n_mel, T_steps * r) before the
        postnet, gate logits (B, T_steps), alignments (B, T_steps, T_in), mel_lengths (B,)."""
        batch, time = pad_mask.shape
        state = {
            name: np.zeros((batch, time if size == "time_in" else size), np.float32)
            for name, size in self.state_sizes.items()
        }
        constant = {"memory": memory, "processed_memory": processed, "pad_mask": pad_mask}
        frames = np.zeros((batch, self.n_mel_channels * self.r), np.float32)  # <GO>
        outputs, gates, alignments = [], [], []
        step_lengths = torch.zeros(batch, dtype=torch.int32)
        not_finished = torch.ones(batch, dtype=torch.int32)
        for _ in range(self.max_decoder_steps):
            masks = self._prenet_masks(batch, dropout, generator)
            frames, gate, *new_state = step_session.run(
                None, {"decoder_input": frames, **masks, **state, **constant}
            )
            state = dict(zip(STATE, new_state))
            outputs.append(frames)
            gates.append(gate[:, 0])
            alignments.append(state["attention_weights"])
            going_on = torch.sigmoid(torch.from_numpy(gate[:, 0])) <= self.gate_threshold
            not_finished *= going_on.to(torch.int32)
            step_lengths += not_finished
            if self.early_stopping and not not_finished.any():
                break
        steps = torch.from_numpy(np.stack(outputs))  # (T_steps, B, R)
        mel = steps.unflatten(2, (-1, self.n_mel_channels)).permute(1, 3, 0, 2).flatten(2)
        return (
            mel,
            torch.from_numpy(np.stack(gates, 1)),
            torch.from_numpy(np.stack(alignments, 1)),
            step_lengths * self.r,
        )

    def _prenet_masks(
        self, batch: int, dropout: bool, generator: torch.Generator | None
    ) -> dict[str, np.ndarray]:
        """The prenet's dropout scales for one step: the torch model's two Bernoulli(0.5)
        draws (same generator, same order and shapes), as keep / 0.5; ones with dropout off."""
        if not dropout:
            ones = np.ones((batch, self.prenet_dim), np.float32)
            return {name: ones for name in PRENET_MASKS}
        device = generator.device if generator is not None else "cpu"
        masks = {}
        for name in PRENET_MASKS:
            keep = torch.empty(batch, self.prenet_dim, device=device).bernoulli_(0.5, generator=generator)
            masks[name] = (keep / 0.5).cpu().numpy()
        return masks

    def infer(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        prenet_dropout: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ids (B, T_in), lengths (B,) -> mel (B, n_mel, T_out), mel_lengths (B,) int32,
        alignments (B, T_steps, T_in); arguments as in `infer_full`."""
        out = self.infer_full(ids, lengths, generator, prenet_dropout=prenet_dropout)
        return out.mel_postnet, out.mel_lengths, out.alignments

    def mels(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None
    ) -> MelBatch:
        out = self.infer_full(ids, lengths, generator)
        return MelBatch(out.mel_postnet, out.mel_lengths, out.alignments, out.hit_max_steps)

    @torch.inference_mode()
    def deviation_from_fp32(self, ids: torch.Tensor, lengths: torch.Tensor) -> dict[str, float]:
        """How far the quantised decoder step moves the mel from the fp32 graphs': max and mean
        |mel_postnet - fp32 mel_postnet| over the frames both runs made, prenet dropout off
        (as ``Tacotron2.deviation_from_fp32``)."""
        mel = self.infer_full(ids, lengths, prenet_dropout=False).mel_postnet
        reference = self.infer_full(
            ids, lengths, prenet_dropout=False, step_session=self.reference_step
        ).mel_postnet
        frames = min(mel.size(2), reference.size(2))
        diff = (mel[:, :, :frames] - reference[:, :, :frames]).abs()
        return {
            "mel_max_abs_deviation": float(diff.max()),
            "mel_mean_abs_deviation": float(diff.mean()),
        }
