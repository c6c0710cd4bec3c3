"""Tacotron2 acoustic model (Shen et al. 2018), weight-compatible with NVIDIA's checkpoints.

Inference follows NVIDIA DeepLearningExamples (DLE) ``Tacotron2.infer``: batched, with the
attention mask, rows decoded longest first, per-item stop with DLE ``mel_lengths``; prenet
dropout stays on. Items come back in the caller's order.

``n_frames_per_step`` (r) follows NVIDIA/tacotron2: each decoder step emits r mel frames and
one stop-gate logit, so the mel has T_steps * r frames and the alignment one row per step;
``max_decoder_steps`` counts steps (at most max_decoder_steps * r frames).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from ... import draws
from ...draws import Generators
from ...errors import ConfigError, InputError
from ...stages import MaxDecoderStepsWarning, MelChunk
from .budget import cut_rows, step_limits
from .inference import Tacotron2Inference, Tacotron2Output, mel_deviation
from .layers import Decoder, Encoder, Postnet
from .postfilter import MelPostfilter, refine
from .stream import stream_mels

#: options that change how the model decodes, not its weights (`load_tacotron2` takes them from
#: the caller, else from the file as torch.hub does; the pipeline from the ttsfw config)
BEHAVIOUR = (
    "max_decoder_steps", "gate_threshold", "early_stopping", "prenet_dropout",
    "max_frames_per_symbol", "frame_budget_base", "fine_structure_gain",
)
#: DLE/NVIDIA constructor options that only matter in training: accepted and ignored
TRAINING_ONLY = ("mask_padding", "p_attention_dropout", "p_decoder_dropout", "fp16_run")


@dataclass(frozen=True)
class Tacotron2Config:
    """Constructor options, NVIDIA hparams names; the defaults are NVIDIA's published model."""

    n_symbols: int = 148
    symbols_embedding_dim: int = 512
    encoder_kernel_size: int = 5
    encoder_n_convolutions: int = 3
    encoder_embedding_dim: int = 512
    attention_rnn_dim: int = 1024
    attention_dim: int = 128
    attention_location_n_filters: int = 32
    attention_location_kernel_size: int = 31
    n_frames_per_step: int = 1
    decoder_rnn_dim: int = 1024
    prenet_dim: int = 256
    postnet_embedding_dim: int = 512
    postnet_kernel_size: int = 5
    postnet_n_convolutions: int = 5
    n_mel_channels: int = 80
    max_decoder_steps: int = 2000
    gate_threshold: float = 0.5
    early_stopping: bool = True
    prenet_dropout: bool = True
    #: the frame budget (budget.py): at most this many frames per input symbol, plus
    #: frame_budget_base frames; None = off (DLE)
    max_frames_per_symbol: float | None = None
    frame_budget_base: float = 0.0
    #: the postnet's output with its fine structure along frequency scaled by this (sharpen.py);
    #: 1 = the model's own output (DLE)
    fine_structure_gain: float = 1.0

    def __post_init__(self) -> None:
        if self.n_frames_per_step < 1:
            raise ConfigError(
                f"tacotron2: n_frames_per_step (mel frames per decoder step) must be at least 1, "
                f"got {self.n_frames_per_step}"
            )
        if self.symbols_embedding_dim != self.encoder_embedding_dim:
            raise ConfigError(
                f"tacotron2: symbols_embedding_dim ({self.symbols_embedding_dim}) must equal "
                f"encoder_embedding_dim ({self.encoder_embedding_dim})"
            )
        if self.max_decoder_steps < 1:
            raise ConfigError(
                f"tacotron2: max_decoder_steps must be at least 1, got {self.max_decoder_steps}"
            )
        if self.max_frames_per_symbol is not None and not self.max_frames_per_symbol > 0:
            raise ConfigError(
                f"tacotron2: max_frames_per_symbol (the frame budget per input symbol) must be "
                f"positive, or null for no budget; got {self.max_frames_per_symbol}"
            )
        if self.frame_budget_base < 0:
            raise ConfigError(
                f"tacotron2: frame_budget_base (frames added to every budget) must be >= 0, "
                f"got {self.frame_budget_base}"
            )
        if not self.fine_structure_gain >= 0:
            raise ConfigError(
                f"tacotron2: fine_structure_gain (how much the mel's fine structure along "
                f"frequency is scaled; 1 = unchanged) must be >= 0, got {self.fine_structure_gain}"
            )

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> "Tacotron2Config":
        """Read ttsfw config keys, DLE's 22 constructor kwargs or NVIDIA hparams.

        DLE's ``decoder_no_early_stopping`` maps to ``early_stopping``; TRAINING_ONLY keys are
        ignored; unknown keys are an error (typos).
        """
        # null = not chosen: from the checkpoint, or these defaults for random weights
        options = {k: v for k, v in options.items() if k not in TRAINING_ONLY and v is not None}
        if "decoder_no_early_stopping" in options:
            options["early_stopping"] = not options.pop("decoder_no_early_stopping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"unknown tacotron2 option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**options)

    def architecture(self) -> dict[str, Any]:
        """The options that fix the weights' shapes."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in BEHAVIOUR}

    def behaviour(self) -> dict[str, Any]:
        """The options that change how the model decodes (BEHAVIOUR), not its weights."""
        return {name: getattr(self, name) for name in BEHAVIOUR}


class Tacotron2(Tacotron2Inference):
    """Symbol ids -> mel spectrogram; ``state_dict`` keys equal NVIDIA's (84 tensors full size)."""

    #: the mels of NVIDIA's recipe (and the shipped voice): 22,050 Hz audio, a frame per 256 samples
    sample_rate = 22050
    hop_length = 256

    def formats(self) -> dict[str, str]:
        """The stored weights, and what the decoder's per-step GEMMs run in (int8, bf16...)."""
        return {**super().formats(), "decoder steps": self.decoder.weight_format}

    def __init__(self, config: Tacotron2Config = Tacotron2Config()):
        super().__init__()
        c = config
        self.config = config
        self.n_mel_channels = c.n_mel_channels
        self.embedding = nn.Embedding(c.n_symbols, c.symbols_embedding_dim)
        bound = math.sqrt(3.0) * math.sqrt(2.0 / (c.n_symbols + c.symbols_embedding_dim))
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        self.encoder = Encoder(
            c.encoder_n_convolutions, c.encoder_embedding_dim, c.encoder_kernel_size
        )
        self.decoder = Decoder(
            c.n_mel_channels,
            c.encoder_embedding_dim,
            c.attention_rnn_dim,
            c.decoder_rnn_dim,
            c.prenet_dim,
            c.attention_dim,
            c.attention_location_n_filters,
            c.attention_location_kernel_size,
            prenet_dropout=c.prenet_dropout,
            n_frames_per_step=c.n_frames_per_step,
        )
        self.postnet = Postnet(
            c.n_mel_channels,
            c.postnet_embedding_dim,
            c.postnet_kernel_size,
            c.postnet_n_convolutions,
        )
        #: a learned postfilter after the postnet (postfilter.py; `acoustic.postfilter`), or None
        self.postfilter: MelPostfilter | None = None
        #: caller indices of the items the last `infer` cut at their step limit
        self.last_hit_max_steps: list[int] = []

    @torch.inference_mode()
    def infer_full(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        generator: Generators = None,
        *,
        prenet_dropout: bool | None = None,
    ) -> Tacotron2Output:
        """ids (B, T_in), lengths (B,) -> every output, items in the caller's order.

        Rows are decoded longest first (as DLE does, so seeded prenet draws match it).
        `generator` (on the model's device) drives prenet dropout; None = the global RNG, drawn
        from as DLE's ``infer`` does; a list gives each row its own (`ttsfw.draws`). `prenet_dropout` switches dropout for this call (None: the
        model's own setting, ``config.prenet_dropout`` at load; off makes the mel deterministic).
        """
        memory, pad_mask, restore = self.encode(ids, lengths)
        width = memory.size(1)
        c = self.config
        limits = step_limits(pad_mask, c)
        out = self.decoder(
            memory, pad_mask, c.max_decoder_steps, c.gate_threshold, c.early_stopping,
            draws.pick(generator, restore.argsort().tolist()), prenet_dropout, limits,
        )
        mel_postnet = refine(out.mel + self.postnet(out.mel), c.fine_structure_gain, self.postfilter)
        extra = ids.size(1) - width
        mel_lengths = out.mel_lengths[restore]
        r = c.n_frames_per_step
        hit = cut_rows(mel_lengths, limits[restore], r)
        self.last_hit_max_steps = hit
        if hit and c.early_stopping:
            warnings.warn(
                MaxDecoderStepsWarning(hit, c.max_decoder_steps, r, c.max_frames_per_symbol),
                stacklevel=3,
            )
        return Tacotron2Output(
            mel_postnet=mel_postnet[restore],
            mel_lengths=mel_lengths,
            alignments=F.pad(out.alignments, (0, extra))[restore],
            mel=out.mel[restore],
            gate=out.gate[restore],
            encoder_outputs=F.pad(memory, (0, 0, 0, extra))[restore],
            hit_max_steps=hit,
        )

    def encode(
        self, ids: torch.Tensor, lengths: torch.Tensor, rows_alone: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ids (B, T_in), lengths (B,) -> memory (B, T, E) and pad_mask (B, T) of the rows
        sorted longest first (T = the longest length), and `restore`, the indices that put
        sorted rows back in the caller's order. `rows_alone` encodes each row as a batch of
        one: its memory then does not depend on the padding (which enters the reference's
        convolutions, so its short rows' last symbols differ from a batch-one run)."""
        check_inputs(ids, lengths, self.config.n_symbols)
        lengths = lengths.to(ids.device)
        order = torch.argsort(lengths, descending=True, stable=True)
        lengths = lengths[order]
        width = int(lengths[0])
        if rows_alone:
            alone = [self._memory(ids[row : row + 1], lengths[k : k + 1])[0] for k, row in enumerate(order.tolist())]
            memory = torch.nn.utils.rnn.pad_sequence(alone, batch_first=True)
        else:
            memory = self._memory(ids[order], lengths)
        pad_mask = torch.arange(width, device=ids.device) >= lengths.unsqueeze(1)
        return memory, pad_mask, torch.argsort(order)

    def _memory(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (B, T_in) of rows sorted longest first, lengths (B,) -> memory (B, T, E)."""
        return self.encoder(self.embedding(ids[:, : int(lengths[0])]).transpose(1, 2), lengths)

    def stream_mels(
        self, ids: torch.Tensor, lengths: torch.Tensor, generator: Generators = None, lookahead: int = 0
    ) -> Iterator[MelChunk]:
        """`mels` while the decoder runs: postnet frames as soon as their lookahead is decoded
        (`stream.py`), the same values and prenet draws as `mels`; the first chunk has
        `lookahead` frames more (`AcousticModel.stream_mels`)."""
        return stream_mels(self, ids, lengths, generator, lookahead)

    @torch.inference_mode()
    def deviation_from_fp32(self, ids: torch.Tensor, lengths: torch.Tensor) -> dict[str, float]:
        """How far this model's decoder weight format (bf16, int8) moves the mel from fp32:
        max and mean |mel_postnet - fp32 mel_postnet| over the frames both runs produced, with
        prenet dropout off. The fp32 reference runs with autocast off; the model's own run in
        the caller's context (call it where inference runs to include autocast)."""
        decoder = self.decoder
        saved = decoder.weight_format
        mel = self.infer_full(ids, lengths, prenet_dropout=False).mel_postnet.float()
        try:
            decoder.weight_format = "fp32"
            with torch.autocast(ids.device.type, enabled=False):
                reference = self.infer_full(ids, lengths, prenet_dropout=False).mel_postnet
        finally:
            decoder.weight_format = saved
        return mel_deviation(mel, reference)


def check_inputs(ids: torch.Tensor, lengths: torch.Tensor, n_symbols: int) -> None:
    """ids (B, T_in) and lengths (B,) fit a Tacotron2 of `n_symbols` symbols, or an error."""
    if ids.dim() != 2 or lengths.shape != ids.shape[:1]:
        raise ValueError(
            f"Tacotron2.infer expects ids (B, T_in) and lengths (B,), "
            f"got {tuple(ids.shape)} and {tuple(lengths.shape)}"
        )
    if ids.numel() == 0 or int(lengths.min()) < 1:
        raise InputError(
            "Tacotron2 cannot speak an empty text: every item needs at least one symbol"
        )
    if int(lengths.max()) > ids.size(1):
        raise ValueError(f"a length exceeds the {ids.size(1)} columns of ids")
    if int(ids.max()) >= n_symbols or int(ids.min()) < 0:
        raise InputError(
            f"symbol ids must lie in [0, {n_symbols}) for this model, got "
            f"{int(ids.min())}..{int(ids.max())}: the frontend and the checkpoint use "
            f"different symbol tables"
        )

