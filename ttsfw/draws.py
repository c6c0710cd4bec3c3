"""Random draws for a batch whose rows may each have their own generator.

Stages that sample (the prenet's dropout, WaveGlow's noise, Griffin-Lim's first phases) take a
`Generators`: one ``torch.Generator`` (or None, the global RNG) for the whole batch, drawn from
as ``torch`` draws a batch, or a sequence of them, one per row. With one per row, row b's draws
are the ones a batch of one would make from ``generators[b]``: a row's audio does not depend on
what else is in its batch (the server's seeded requests, `Engine.stream_batch`).
"""

from __future__ import annotations

from typing import Sequence, Union

import torch

Generators = Union[torch.Generator, Sequence[torch.Generator], None]


def per_row(generators: Generators) -> bool:
    """Whether `generators` gives each row its own generator."""
    return isinstance(generators, (list, tuple))


def randn(shape: Sequence[int], generators: Generators, device: torch.device | str = "cpu") -> torch.Tensor:
    """N(0, 1) draws of `shape` (B, ...)."""
    return _draw(torch.randn, shape, generators, device)


def rand(shape: Sequence[int], generators: Generators, device: torch.device | str = "cpu") -> torch.Tensor:
    """U[0, 1) draws of `shape` (B, ...)."""
    return _draw(torch.rand, shape, generators, device)


def keep_mask(like: torch.Tensor, p: float, generators: Generators) -> torch.Tensor:
    """Bernoulli(p) draws (0. or 1.) shaped and typed like `like` (B, ...); one generator draws
    them as ``torch.empty_like(like).bernoulli_(p)`` does (what ``F.dropout`` draws on the CPU)."""
    if not per_row(generators):
        return torch.empty_like(like).bernoulli_(p, generator=generators)
    _check_rows(like.shape, generators)
    return torch.cat([torch.empty_like(like[:1]).bernoulli_(p, generator=g) for g in generators])


def device(generators: Generators) -> torch.device:
    """Where `generators` draw (the CPU for the global RNG)."""
    if per_row(generators):
        generators = generators[0] if generators else None
    return torch.device("cpu") if generators is None else generators.device


def global_seed() -> int:
    """A seed drawn from the global RNG (what ``torch.manual_seed`` makes reproducible)."""
    return int(torch.randint(2**63 - 1, ()))


def pick(generators: Generators, rows: Sequence[int]) -> Generators:
    """The generators for a batch of the rows `rows`: theirs, or the shared one."""
    return [generators[row] for row in rows] if per_row(generators) else generators


def _draw(sample, shape: Sequence[int], generators: Generators, device) -> torch.Tensor:
    if not per_row(generators):
        return sample(tuple(shape), generator=generators, device=device)
    _check_rows(shape, generators)
    one = (1, *shape[1:])
    return torch.cat([sample(one, generator=g, device=device) for g in generators])


def _check_rows(shape: Sequence[int], generators: Sequence[torch.Generator]) -> None:
    if len(generators) != shape[0]:
        raise ValueError(f"{len(generators)} generators for a batch of {shape[0]} rows")
