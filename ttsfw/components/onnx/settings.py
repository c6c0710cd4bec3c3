"""The ``runtime: onnxruntime`` config node's schema (conf/runtime/onnxruntime.yaml has the
values and what each means)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING


@dataclass
class OnnxRuntimeSettings:
    name: str = MISSING
    dir: Optional[str] = MISSING
    quantize: Optional[str] = MISSING
