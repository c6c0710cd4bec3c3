"""The ``acoustic: tacotron2`` config node's schema (conf/acoustic/tacotron2.yaml has the
values and what each means). Architecture sizes are null unless chosen: a checkpoint brings
its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING


@dataclass
class Tacotron2Settings:
    name: str = MISSING
    checkpoint: Optional[str] = MISSING
    init_seed: int = MISSING
    n_symbols: Optional[int] = MISSING
    symbols_embedding_dim: Optional[int] = MISSING
    encoder_kernel_size: Optional[int] = MISSING
    encoder_n_convolutions: Optional[int] = MISSING
    encoder_embedding_dim: Optional[int] = MISSING
    attention_rnn_dim: Optional[int] = MISSING
    attention_dim: Optional[int] = MISSING
    attention_location_n_filters: Optional[int] = MISSING
    attention_location_kernel_size: Optional[int] = MISSING
    n_frames_per_step: Optional[int] = MISSING
    decoder_rnn_dim: Optional[int] = MISSING
    prenet_dim: Optional[int] = MISSING
    postnet_embedding_dim: Optional[int] = MISSING
    postnet_kernel_size: Optional[int] = MISSING
    postnet_n_convolutions: Optional[int] = MISSING
    n_mel_channels: Optional[int] = MISSING
    max_decoder_steps: int = MISSING
    gate_threshold: float = MISSING
    early_stopping: bool = MISSING
    prenet_dropout: bool = MISSING
    max_frames_per_symbol: Optional[float] = MISSING
    frame_budget_base: float = MISSING
    fine_structure_gain: float = MISSING
    postfilter: Optional[str] = MISSING
    cuda_graph_steps: int = MISSING
