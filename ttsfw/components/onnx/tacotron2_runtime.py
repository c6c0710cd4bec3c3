"""The exported Tacotron2 on onnxruntime: an AcousticModel that the pipeline runs like the
torch one. The decoding loop is the torch model's (DLE ``infer``): rows longest first, per-row
stop with DLE ``mel_lengths``, rows that stopped decoded on until the batch ends, prenet
dropout drawn from the same generator in the same order, so seeded runs match torch. A stream
(`stream_mels`) runs the torch model's own chunking over these steps (tacotron2/stream.py).

Shapes: B = batch, T_in = input symbols, T_steps = decoder steps, R = n_mel * r.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any, Iterator

import numpy as np
import torch
from torch.nn import functional as F

from ... import draws
from ...draws import Generators
from ...stages import MaxDecoderStepsWarning, MelChunk
from ..tacotron2.budget import cut_rows, step_limits, still_going
from ..tacotron2.inference import Tacotron2Inference, Tacotron2Output, mel_deviation
from ..tacotron2.model import Tacotron2Config, check_inputs
from ..tacotron2.postfilter import refine
from ..tacotron2.stream import postnet_chunks
from .tacotron2_graphs import PRENET_MASKS, STATE

#: a decoder step as `Decoder.steps` yields it: r frames and the gate logit (B, R + 1), the
#: attention weights (B, T_in), the rows not stopped yet (B,) int32
Step = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class OnnxMelGraph:
    """A graph of one mel input as its torch module is called: postnet.onnx, mel (B, n_mel, T)
    -> its residual (mel_postnet = mel + residual), with `context_frames` on each side an output
    frame depends on; postfilter.onnx, mel -> the refined mel (frame-local)."""

    def __init__(self, session: Any, context_frames: int = 0):
        self.session, self.context_frames = session, context_frames

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        (residual,) = self.session.run(None, {"mel": mel.float().cpu().contiguous().numpy()})
        return torch.from_numpy(residual).to(mel.device)


class OnnxTacotron2(Tacotron2Inference):
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
        self.config = replace(Tacotron2Config(**entry["architecture"]), **behaviour)
        self.sessions, self.step_format, self.reference_step = sessions, step_format, reference_step
        self.postnet = OnnxMelGraph(sessions["postnet"], int(entry["postnet_context_frames"]))
        self.postfilter = OnnxMelGraph(sessions["postfilter"]) if "postfilter" in sessions else None
        self.n_mel_channels = self.config.n_mel_channels
        self.sample_rate, self.hop_length = int(entry["sample_rate"]), int(entry["hop_length"])
        self.state_sizes = {
            name: spec["shape"][-1]
            for name, spec in entry["graphs"]["decoder_step"]["inputs"].items()
            if name in STATE
        }

    def formats(self) -> dict[str, str]:
        providers = self.sessions["decoder_step"].get_providers()
        return {"runtime": f"onnxruntime ({providers[0]})", "decoder steps": self.step_format}

    def encode(
        self, ids: torch.Tensor, lengths: torch.Tensor, rows_alone: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
        """ids (B, T_in), lengths (B,) -> memory (B, T, E), processed_memory (B, T, A),
        pad_mask (B, T) of the rows sorted longest first (T = the longest length), and
        `restore`, the indices that put sorted rows back in the caller's order; `rows_alone`
        as in ``Tacotron2.encode``."""
        check_inputs(ids, lengths, self.config.n_symbols)
        ids, lengths = ids.cpu(), lengths.cpu()
        order = torch.argsort(lengths, descending=True, stable=True)
        lengths = lengths[order]
        width = int(lengths[0])
        if rows_alone:
            alone = [self._memory(ids[row : row + 1], lengths[k : k + 1]) for k, row in enumerate(order.tolist())]
            memory, processed = (
                np.stack([np.pad(part[0], ((0, width - part.shape[1]), (0, 0))) for part in parts])
                for parts in zip(*alone)
            )
        else:
            memory, processed = self._memory(ids[order], lengths)
        pad_mask = (torch.arange(width) >= lengths.unsqueeze(1)).numpy()
        return memory, processed, pad_mask, torch.argsort(order)

    def _memory(self, ids: torch.Tensor, lengths: torch.Tensor) -> list[np.ndarray]:
        """ids (B, T_in) of rows sorted longest first, lengths (B,) -> memory (B, T, E) and
        processed memory (B, T, A)."""
        feed = {"ids": ids[:, : int(lengths[0])].numpy(), "lengths": lengths.numpy()}
        return self.sessions["encoder"].run(None, feed)

    def steps(
        self,
        memory: np.ndarray,
        processed: np.ndarray,
        pad_mask: np.ndarray,
        dropout: bool,
        generator: Generators,
        limits: torch.Tensor,
        step_session: Any = None,
    ) -> Iterator[Step]:
        """The decoder loop over decoder_step.onnx (`step_session`, None: the model's), one
        `Step` at a time, until every row has stopped (early stopping) or reached its limit of
        `limits` (B,) steps (tacotron2/budget.py)."""
        c = self.config
        batch, time = pad_mask.shape
        session = step_session or self.sessions["decoder_step"]
        state = {
            name: np.zeros((batch, time if size == "time_in" else size), np.float32)
            for name, size in self.state_sizes.items()
        }
        constant = {"memory": memory, "processed_memory": processed, "pad_mask": pad_mask}
        frames = np.zeros((batch, c.n_mel_channels * c.n_frames_per_step), np.float32)  # <GO>
        not_finished = torch.ones(batch, dtype=torch.int32)
        for step in range(c.max_decoder_steps):
            masks = self._prenet_masks(batch, dropout, generator)
            frames, gate, *new_state = session.run(
                None, {"decoder_input": frames, **masks, **state, **constant}
            )
            state = dict(zip(STATE, new_state))
            output = torch.from_numpy(np.concatenate((frames, gate), 1))
            not_finished = still_going(not_finished, output[:, -1], c.gate_threshold, step, limits)
            yield output, torch.from_numpy(state["attention_weights"]), not_finished
            if c.early_stopping and not not_finished.any():
                return

    def steps_to_frames(self, steps: torch.Tensor) -> torch.Tensor:
        """(T_steps, B, R) per-step outputs -> mel (B, n_mel, T_steps * r)."""
        return steps.unflatten(2, (-1, self.n_mel_channels)).permute(1, 3, 0, 2).flatten(2)

    def _prenet_masks(
        self, batch: int, dropout: bool, generator: Generators
    ) -> dict[str, np.ndarray]:
        """The prenet's dropout scales for one step: the torch model's two Bernoulli(0.5)
        draws (same generator, same order and shapes), as keep / 0.5; ones with dropout off."""
        size = (batch, self.config.prenet_dim)
        if not dropout:
            ones = np.ones(size, np.float32)
            return {name: ones for name in PRENET_MASKS}
        like = torch.empty(size, device=draws.device(generator))
        return {name: (draws.keep_mask(like, 0.5, generator) / 0.5).cpu().numpy() for name in PRENET_MASKS}

    @torch.inference_mode()
    def infer_full(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        generator: Generators = None,
        *,
        prenet_dropout: bool | None = None,
        step_session: Any = None,
    ) -> Tacotron2Output:
        """ids (B, T_in), lengths (B,) -> every output, rows in the caller's order (as
        ``Tacotron2.infer_full``); `generator` drives prenet dropout (None: the global RNG),
        `prenet_dropout` switches it for this call (None: the model's setting), `step_session`
        replaces the decoder step's session (None: the model's)."""
        c = self.config
        dropout = c.prenet_dropout if prenet_dropout is None else prenet_dropout
        memory, processed, pad_mask, restore = self.encode(ids, lengths)
        limits = step_limits(torch.from_numpy(pad_mask), c)
        generator = draws.pick(generator, restore.argsort().tolist())
        steps = list(self.steps(memory, processed, pad_mask, dropout, generator, limits, step_session))
        outputs, alignments, not_finished = (torch.stack(parts) for parts in zip(*steps))
        mel = self.steps_to_frames(outputs[:, :, :-1])
        mel_lengths = not_finished.sum(0, dtype=torch.int32)[restore] * c.n_frames_per_step
        hit = cut_rows(mel_lengths, limits[restore], c.n_frames_per_step)
        if hit and c.early_stopping:
            warning = MaxDecoderStepsWarning(
                hit, c.max_decoder_steps, c.n_frames_per_step, c.max_frames_per_symbol
            )
            warnings.warn(warning, stacklevel=3)
        extra = ids.size(1) - pad_mask.shape[1]
        return Tacotron2Output(
            mel_postnet=refine(mel + self.postnet(mel), c.fine_structure_gain, self.postfilter)[restore].to(ids.device),
            mel_lengths=mel_lengths.to(ids.device),
            alignments=F.pad(alignments.transpose(0, 1), (0, extra))[restore].to(ids.device),
            mel=mel[restore].to(ids.device),
            gate=outputs[:, :, -1].t()[restore].to(ids.device),
            encoder_outputs=F.pad(torch.from_numpy(memory), (0, 0, 0, extra))[restore].to(ids.device),
            hit_max_steps=hit,
        )

    @torch.inference_mode()
    def stream_mels(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: Generators = None, lookahead: int = 0
    ) -> Iterator[MelChunk]:
        """`mels` while the decoder runs, chunked as the torch model chunks its stream."""
        memory, processed, pad_mask, restore = self.encode(ids, lengths, rows_alone=True)
        limits = step_limits(torch.from_numpy(pad_mask), self.config)
        generator = draws.pick(generator, restore.argsort().tolist())
        steps = self.steps(memory, processed, pad_mask, self.config.prenet_dropout, generator, limits)
        chunks = postnet_chunks(
            steps, self.postnet, self.steps_to_frames, self.config, restore, limits, lookahead,
            self.postfilter,
        )
        for chunk in chunks:
            yield replace(chunk, mel=chunk.mel.to(ids.device), lengths=chunk.lengths.to(ids.device))

    @torch.inference_mode()
    def deviation_from_fp32(self, ids: torch.Tensor, lengths: torch.Tensor) -> dict[str, float]:
        """How far the quantised decoder step moves the mel from the fp32 graphs': max and mean
        |mel_postnet - fp32 mel_postnet| over the frames both runs made, prenet dropout off
        (as ``Tacotron2.deviation_from_fp32``)."""
        mel = self.infer_full(ids, lengths, prenet_dropout=False).mel_postnet
        reference = self.infer_full(
            ids, lengths, prenet_dropout=False, step_session=self.reference_step
        ).mel_postnet
        return mel_deviation(mel, reference)
