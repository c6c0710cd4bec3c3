"""1-D convolutions in the channels-last layout, the one oneDNN's fast CPU kernels use.

torch has no channels-last layout for (B, C, T) tensors: a `Conv1d` gets its input made
(B, C, T)-contiguous. Held as (B, C, 1, T) in `torch.channels_last` and run as 2-D convs, the
same convolutions go 2-5x faster on a CPU for narrow, dilated or wide-kernel layers (HiFi-GAN's
8-64 channels, kernels 3-11, dilations 1-5; measured on an AVX2 EPYC, fp32), and their
outputs stay channels-last, so a stack of them converts once at its input. `Conv1d` and
`ConvTranspose1d` take either layout and keep torch's weights and state-dict keys.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def wants_channels_last(x: torch.Tensor) -> bool:
    """Whether a conv stack should run `x` channels-last: on a CPU, not while an ONNX graph is
    traced (the exported graph keeps its 1-D convs)."""
    return x.device.type == "cpu" and not torch.onnx.is_in_onnx_export()


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T) -> (B, C, 1, T) in `torch.channels_last`."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def from_channels_last(x: torch.Tensor) -> torch.Tensor:
    """(B, C, 1, T) -> (B, C, T); (B, C, T) is returned as it is."""
    return x.squeeze(2) if x.dim() == 4 else x


class Conv1d(nn.Conv1d):
    """`nn.Conv1d` that also takes (B, C, 1, T) input (`to_channels_last`) and gives (B, C', 1, T')."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, self.padding[0])

    def run(self, x: torch.Tensor, padding: int) -> torch.Tensor:
        """The conv with `padding` zeros each side instead of its own (either layout)."""
        (stride,), (dilation,) = self.stride, self.dilation
        if x.dim() == 3:
            return F.conv1d(x, self.weight, self.bias, stride, padding, dilation, self.groups)
        return F.conv2d(x, self.weight.unsqueeze(2), self.bias, (1, stride), (0, padding), (1, dilation), self.groups)


class ConvTranspose1d(nn.ConvTranspose1d):
    """`nn.ConvTranspose1d` that also takes (B, C, 1, T) input and gives (B, C', 1, T')."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, self.padding[0])

    def run(self, x: torch.Tensor, padding: int) -> torch.Tensor:
        """The transposed conv cropping `padding` samples each side instead of its own."""
        (stride,), (extra,), (dilation,) = self.stride, self.output_padding, self.dilation
        if x.dim() == 3:
            return F.conv_transpose1d(x, self.weight, self.bias, stride, padding, extra, self.groups, dilation)
        return F.conv_transpose2d(
            x, self.weight.unsqueeze(2), self.bias, (1, stride), (0, padding), (0, extra), self.groups, (1, dilation)
        )
