"""onnxruntime, imported only here and only when a runtime=onnxruntime stage is built: sessions
on the providers that follow ``device=``, and ``runtime.quantize=int8``.

    device=cpu   -> CPUExecutionProvider
    device=cuda  -> CUDAExecutionProvider (onnxruntime-gpu), CPU for what it lacks
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from ...errors import ConfigError

#: ttsfw device type -> onnxruntime execution providers, in preference order
PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
}
QUANTIZE_MODES = ("none", "int8")


def require(module: str) -> Any:
    """Import onnx or onnxruntime, or fail with the one line that says what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"{module} is not installed: ONNX export and runtime=onnxruntime need it "
            f"(pip install 'ttsfw[export]'; onnxruntime-gpu for device=cuda)"
        ) from None


def providers(device_type: str) -> list[str]:
    """The execution providers for a ttsfw device type, checked against this onnxruntime."""
    ort = require("onnxruntime")
    wanted = PROVIDERS.get(device_type)
    if wanted is None:
        raise ConfigError(
            f"runtime=onnxruntime runs on {' or '.join(PROVIDERS)}, not device={device_type}"
        )
    if wanted[0] not in ort.get_available_providers():
        raise ConfigError(
            f"device={device_type} needs onnxruntime's {wanted[0]}, which this onnxruntime "
            f"lacks (it has {', '.join(ort.get_available_providers())}); install onnxruntime-gpu"
        )
    return wanted


def open_session(model: Path | bytes, device_type: str, threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` of `model` (a path or the serialised model) on the
    device's providers; `threads` caps its intra-op threads (None: onnxruntime's default)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=providers(device_type))


def check_quantize(mode: str, device_type: str) -> str:
    if mode not in QUANTIZE_MODES:
        raise ConfigError(f"runtime.quantize must be one of {', '.join(QUANTIZE_MODES)}, got {mode!r}")
    if mode == "int8" and device_type != "cpu":
        raise ConfigError(
            f"runtime.quantize=int8 is onnxruntime's dynamic int8 for the CPU, not device={device_type}"
        )
    return mode


def quantized_int8(path: Path) -> bytes:
    """The graph at `path` with onnxruntime's dynamic int8 quantisation of its matrix products
    (weights per output channel, activations per call), serialised."""
    require("onnxruntime")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()  # onnxruntime logs advice on the root logger
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / path.name
            quantize_dynamic(path, target, weight_type=QuantType.QInt8, per_channel=True)
            return target.read_bytes()
    finally:
        quiet.setLevel(level)
