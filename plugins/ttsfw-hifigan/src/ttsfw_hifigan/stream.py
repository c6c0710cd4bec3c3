"""HiFi-GAN run on a growing mel, every sample made once (`Generator.stream`).

Each layer keeps what it needs of its input between pushes: a 'same'-padded conv of kernel k
and dilation d the last (k - 1) * d samples (starting from its left zero padding), a
transposed conv its last input sample(s); a residual or the MRF's mean holds the branch that
is ahead until the other catches up. A push gives the audio whose receptive field is complete,
`finish` the rest with each layer's right zero padding: together exactly `Generator.infer`'s
audio (fp32 rounding aside), without recomputing any context, unlike a windowed stream
(ttsfw/streaming.py).

Tensors run along their last dim, (B, C, T) or channels-last (B, C, 1, T), as in `forward`.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ttsfw import VocoderStream

from .channels_last import Conv1d, ConvTranspose1d, from_channels_last, to_channels_last, wants_channels_last
from .generator import LRELU_SLOPE, Generator, ResBlock1


def _cat(held: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """`held` then `x` along time, channels-last if `x` is 4-D (a 1-sample piece's strides fit
    both layouts, and `torch.cat` then falls back to the contiguous one, 2x slower convs)."""
    if held is None:
        return x
    both = torch.cat([held, x], -1)
    return both.contiguous(memory_format=torch.channels_last) if both.dim() == 4 else both


def _last(x: torch.Tensor, samples: int) -> torch.Tensor:
    """The last `samples` of `x`, as a copy: a view would keep all of `x` alive between pushes
    (every layer's whole input: for a batch of long chunks, gigabytes)."""
    return x[..., x.size(-1) - min(samples, x.size(-1)) :].clone()


def _zeros(x: torch.Tensor, samples: int, channels: int | None = None) -> torch.Tensor:
    """Zeros shaped like `x` (with `channels` if given) but `samples` long."""
    shape = list(x.shape[:-1]) + [samples]
    if channels is not None:
        shape[1] = channels
    return x.new_zeros(shape)


def _each(value, fn):
    """fn(value), or [fn(v) for v in value] for a list."""
    return [fn(v) for v in value] if isinstance(value, list) else fn(value)


class Layer(ABC):
    """A stage of the stream: `push` (B, C, [1,] n) -> (B, C', [1,] m), the outputs now final;
    `finish` the rest; `select(rows)` a copy holding only those batch rows' state."""

    held: tuple[str, ...] = ()  # attributes holding per-row state: a tensor, a list of them, None
    inner: tuple[str, ...] = ()  # attributes holding a Layer or a list of them

    @abstractmethod
    def push(self, x: torch.Tensor) -> torch.Tensor:
        """The next input samples -> the outputs that became final."""

    @abstractmethod
    def finish(self, x: torch.Tensor) -> torch.Tensor:
        """The last input samples (maybe none: (B, C, [1,] 0)), then the end -> the last
        outputs, made with the layer's right padding."""

    def select(self, rows: list[int]) -> "Layer":
        chosen = copy.copy(self)
        for name in self.held:
            setattr(chosen, name, _each(getattr(self, name), lambda t: None if t is None else t[rows]))
        for name in self.inner:
            setattr(chosen, name, _each(getattr(self, name), lambda layer: layer.select(rows)))
        return chosen


class Pointwise(Layer):
    """An elementwise function (leaky ReLU, tanh): no state."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]):
        self.fn = fn

    def push(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class Conv(Layer):
    """A stride-1 conv padded (k - 1) * d / 2 each side: keeps the last (k - 1) * d inputs."""

    held = ("kept",)

    def __init__(self, conv: Conv1d):
        (k,), (d,), (p,), (s,) = conv.kernel_size, conv.dilation, conv.padding, conv.stride
        if s != 1 or 2 * p != (k - 1) * d:
            raise ValueError(f"a streamed conv must be stride 1 and 'same'-padded, not {conv}")
        self.conv, self.pad, self.reach = conv, p, (k - 1) * d
        self.kept: torch.Tensor | None = None

    def push(self, x: torch.Tensor) -> torch.Tensor:
        full = _cat(_zeros(x, self.pad) if self.kept is None else self.kept, x)
        self.kept = _last(full, self.reach)
        if full.size(-1) <= self.reach:
            return _zeros(x, 0, self.conv.out_channels)
        return self.conv.run(full, 0)

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        return self.push(_cat(x, _zeros(x, self.pad)))


class ConvTranspose(Layer):
    """A transposed conv (kernel k, stride u, padding p): output sample n (before the crop of
    p) sums inputs i with 0 <= n - i * u < k, so it keeps the last ceil(k / u) - 1 inputs."""

    held = ("kept",)

    def __init__(self, up: ConvTranspose1d):
        (self.k,), (self.u,), (self.p,) = up.kernel_size, up.stride, up.padding
        if up.output_padding[0] or up.dilation[0] != 1 or self.k < self.u:
            raise ValueError(f"a streamed transposed conv needs kernel >= stride, no output padding or dilation, not {up}")
        self.up, self.keep = up, math.ceil(self.k / self.u) - 1
        self.kept: torch.Tensor | None = None
        self.inputs = self.seen = 0  # inputs taken; outputs made before the crop of p

    def push(self, x: torch.Tensor) -> torch.Tensor:
        full = _cat(_zeros(x, self.keep) if self.kept is None else self.kept, x)
        self.kept, self.inputs = _last(full, self.keep), self.inputs + x.size(-1)
        if x.size(-1) == 0:
            return _zeros(x, 0, self.up.out_channels)
        y = self.up.run(full, 0)[..., self.keep * self.u : full.size(-1) * self.u]
        cropped = max(0, min(y.size(-1), self.p - self.seen))
        self.seen += y.size(-1)
        return y[..., cropped:]

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        """Up to the outputs the last inputs still reach: (T - 1) * u + k - 2p in all for T."""
        inputs = self.inputs + x.size(-1)
        made = max(0, self.seen - self.p)
        tail = self.push(_cat(x, _zeros(x, self.keep)))
        return tail[..., : (inputs - 1) * self.u + self.k - 2 * self.p - made]


class Chain(Layer):
    """Layers one after another."""

    inner = ("layers",)

    def __init__(self, layers: Sequence[Layer]):
        self.layers = list(layers)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer.push(x)
        return x

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer.finish(x)
        return x


class Residual(Layer):
    """x + branch(x): holds x until the branch's lagging output reaches it."""

    held = ("waiting",)
    inner = ("branch",)

    def __init__(self, branch: Layer):
        self.branch, self.waiting = branch, None

    def push(self, x: torch.Tensor) -> torch.Tensor:
        return self._add(self.branch.push(x), x)

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        return self._add(self.branch.finish(x), x)

    def _add(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.waiting = _cat(self.waiting, x)
        n = y.size(-1)
        out, self.waiting = y + self.waiting[..., :n], _last(self.waiting, self.waiting.size(-1) - n)
        return out


class Mean(Layer):
    """The mean of branches fed the same input (the MRF), as `sum(...) / len` sums them; each
    branch's outputs wait until every branch has made them."""

    held = ("waiting",)
    inner = ("branches",)

    def __init__(self, branches: Sequence[Layer]):
        self.branches, self.waiting = list(branches), [None] * len(branches)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        return self._mix([b.push(x) for b in self.branches])

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        return self._mix([b.finish(x) for b in self.branches])

    def _mix(self, outs: list[torch.Tensor]) -> torch.Tensor:
        self.waiting = [_cat(w, y) for w, y in zip(self.waiting, outs)]
        n = min(w.size(-1) for w in self.waiting)
        mixed = sum(w[..., :n] for w in self.waiting) / len(self.waiting)
        self.waiting = [_last(w, w.size(-1) - n) for w in self.waiting]
        return mixed


def generator_layers(generator: Generator) -> Chain:
    """`Generator.forward` as stream layers (the same modules, so the same weights)."""
    lrelu = Pointwise(lambda x: F.leaky_relu(x, LRELU_SLOPE))

    def resblock(block: torch.nn.Module) -> Chain:
        if isinstance(block, ResBlock1):
            return Chain([
                Residual(Chain([lrelu, Conv(c1), lrelu, Conv(c2)])) for c1, c2 in zip(block.convs1, block.convs2)
            ])
        return Chain([Residual(Chain([lrelu, Conv(c)])) for c in block.convs])

    layers: list[Layer] = [Conv(generator.conv_pre)]
    k = generator.num_kernels
    for i, up in enumerate(generator.ups):
        layers += [lrelu, ConvTranspose(up), Mean([resblock(b) for b in generator.resblocks[i * k : (i + 1) * k]])]
    layers += [Pointwise(F.leaky_relu), Conv(generator.conv_post), Pointwise(torch.tanh)]
    return Chain(layers)


class GeneratorStream(VocoderStream):
    """`VocoderStream` of a HiFi-GAN generator: mel pushes -> audio as soon as it is final."""

    def __init__(self, generator: Generator, layers: Chain | None = None):
        self.generator, self.layers = generator, layers or generator_layers(generator)
        self.like: torch.Tensor | None = None  # an empty input, for `finish` (dtype, layout, rows)

    def push(self, mel: torch.Tensor) -> torch.Tensor:
        x = to_channels_last(mel) if wants_channels_last(mel) else mel
        self.like = x[..., :0]
        return from_channels_last(self.layers.push(x)).squeeze(1)

    def finish(self) -> torch.Tensor:
        if self.like is None:
            raise ValueError("finish() before any push: there is no audio to end")
        return from_channels_last(self.layers.finish(self.like)).squeeze(1)

    def select(self, rows: list[int]) -> "GeneratorStream":
        chosen = GeneratorStream(self.generator, self.layers.select(rows))
        chosen.like = None if self.like is None else self.like[rows]
        return chosen
