"""``quantize=int8``: dynamic int8 linears for the Tacotron2 decoder (CPU, fbgemm/x86 kernels;
the prenet's two small matrices stay fp32, faster there).

Weights are quantized once, per output channel (symmetric int8); activations are quantized
per call from their observed range and the product is dequantized to fp32 (dynamic
quantization, as ``torch.ao.quantization.quantize_dynamic`` does for ``nn.Linear`` and
``nn.LSTMCell``). The decoder streams 18 M weights per step: in int8 they are 18 MB, which fit
the L3 cache of a typical server CPU, so a batch-1 step gets ~7x faster (see
docs/performance.md for the measured speed and the deviation from fp32). Vocoders are
convolutional and get slower under dynamic quantization, so they are left alone.
"""

from __future__ import annotations

import warnings

import torch

from .errors import ConfigError

def check_quantize(mode: str, device_type: str = "cpu") -> str:
    """`mode` (a checked ``Precision.quantize``), refused where its kernels do not run."""
    if mode == "int8" and device_type != "cpu":
        raise ConfigError(
            f"quantize=int8 runs on the CPU only (dynamic int8 kernels), not on {device_type}; "
            f"use quantize=none with precision=bf16 or fp16 there"
        )
    return mode


class Int8Linear:
    """x (B, in) fp32 -> x W^T + b (B, out) fp32 through a dynamic int8 GEMM."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        weight = weight.detach().float().cpu()
        scales = weight.abs().amax(dim=1).clamp_min(1e-12) / 127.0
        with warnings.catch_warnings():  # torch deprecates the quantized-tensor constructors
            warnings.simplefilter("ignore")
            qweight = torch.quantize_per_channel(
                weight, scales, torch.zeros_like(scales, dtype=torch.long), 0, torch.qint8
            )
        bias = None if bias is None else bias.detach().float().cpu()
        self.packed = torch.ops.quantized.linear_prepack(qweight, bias)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed, True)
