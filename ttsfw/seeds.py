"""Where a synthesis's random draws start: a seed per piece, from the config's (or a
request's) seed and the piece's place in the input, so that a piece's audio depends only on the
config, its text and where it is, not on which process, shard or batch ran before it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from . import draws
from .draws import Generators

if TYPE_CHECKING:
    from .devices import DeviceBackend
    from .results import Piece


def piece_seed(seed: int, line: int, number: int) -> int:
    """The seed of piece `number` of input line `line` (0-based): `seed` itself for the first
    piece of the first line."""
    return (seed + (line << 16) + number) % 2**64


def batch_generator(device: "DeviceBackend", seed: int | None, first: "Piece") -> torch.Generator | None:
    """One generator for a whole batch (the reference's batched draws), seeded from `seed` and
    its first row's place; None when unseeded (the global RNG). With batch_size=1 this is the
    piece's own."""
    return None if seed is None else device.generator(piece_seed(seed, first.line, first.number))


def row_generators(device: "DeviceBackend", seeds: list[int | None], pieces: list["Piece"]) -> Generators:
    """A generator per piece, seeded from its seed and place: its draws are a solo run's in any
    batch. A piece without a seed gets one drawn from the global RNG; None (the global RNG
    itself) when no piece has a seed."""
    if all(seed is None for seed in seeds):
        return None
    return [
        device.generator(piece_seed(seed, piece.line, piece.number) if seed is not None else draws.global_seed())
        for seed, piece in zip(seeds, pieces)
    ]
