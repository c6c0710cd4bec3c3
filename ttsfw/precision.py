"""How a run computes, as every component receives it: ``context.precision``.

    Precision("bf16", quantize="int8").dtype  ->  torch.bfloat16

A component does with it what its stage contract says (``ttsfw/stages.py``): store its weights
in ``dtype`` where it can, keep numerically delicate parts in float32, and use ``quantize``
where it has a quantized form (the Tacotron2 decoder: int8). The pipeline also runs each stage
under the device's autocast for ``dtype``, for the ops a component leaves to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

#: precision name -> torch dtype name (the one table; torch is imported when a dtype is asked for)
DTYPE_NAMES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
#: values of the ``quantize`` option
QUANTIZE_MODES = ("none", "int8")


@dataclass(frozen=True)
class Precision:
    """`name` (fp32 | fp16 | bf16) and `quantize` (none | int8), checked on construction."""

    name: str = "fp32"
    quantize: str = "none"

    def __post_init__(self) -> None:
        if self.name not in DTYPE_NAMES:
            raise ConfigError(f"unknown precision '{self.name}'; choose one of {', '.join(DTYPE_NAMES)}")
        if self.quantize not in QUANTIZE_MODES:
            raise ConfigError(
                f"unknown quantize={self.quantize!r}; choose one of {', '.join(QUANTIZE_MODES)}"
            )

    @property
    def dtype(self) -> "torch.dtype":
        import torch

        return getattr(torch, DTYPE_NAMES[self.name])


def dtype(name: str) -> "torch.dtype":
    """The torch dtype of a precision name (``"bf16"`` -> ``torch.bfloat16``)."""
    return Precision(name).dtype


def cpu_has_native(name: str) -> bool:
    """Whether oneDNN computes precision `name` in this CPU's hardware (bf16: AVX-512 BW/VL/DQ,
    AVX-NE-CONVERT or AMX; fp16 likewise). Elsewhere (an AVX2-only CPU) torch emulates bf16 and
    fp16 op by op: correct, but several times slower than fp32."""
    import torch

    if name == "fp32":
        return True
    if not torch.backends.mkldnn.is_available():
        return False
    supported = {"bf16": torch.ops.mkldnn._is_mkldnn_bf16_supported, "fp16": torch.ops.mkldnn._is_mkldnn_fp16_supported}
    return bool(supported[name]())
