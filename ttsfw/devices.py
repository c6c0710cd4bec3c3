"""Device backends (cpu, cuda, mlu, auto), registered through the device hook."""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, ContextManager

import torch

from .errors import DeviceError
from .hookspecs import hookimpl

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class DeviceBackend:
    """One kind of device: availability, torch.device, sync, autocast, memory, RNG."""

    name: str = "cpu"
    device_type: str = "cpu"
    precisions: tuple[str, ...] = ("fp32", "bf16")

    def __init__(self, index: int | None = None, threads: int | None = None):
        self.index = index
        self.threads = threads

    def is_available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        return f"device '{self.name}' is not available on this machine"

    @property
    def device(self) -> torch.device:
        return torch.device(self.device_type, self.index)

    def prepare(self) -> None:
        """Check availability and apply process settings (threads)."""
        if not self.is_available():
            raise DeviceError(self.unavailable_reason())
        if self.threads:
            torch.set_num_threads(int(self.threads))

    def synchronize(self) -> None:
        """Wait for queued work on the device (a no-op on CPU)."""

    def autocast(self, precision: str) -> ContextManager:
        """Context that runs eligible ops in `precision` (fp32: nothing changes)."""
        self.check_precision(precision)
        if precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=DTYPES[precision])

    def check_precision(self, precision: str) -> None:
        if precision not in DTYPES:
            raise DeviceError(f"unknown precision '{precision}'; choose one of fp32, fp16, bf16")
        if precision not in self.precisions:
            raise DeviceError(
                f"precision={precision} is not supported on device '{self.name}'; "
                f"supported: {', '.join(self.precisions)}"
            )

    def generator(self, seed: int | None) -> torch.Generator | None:
        """A generator on this device seeded with `seed` (None: the global RNG)."""
        if seed is None:
            return None
        return torch.Generator(device=self.device).manual_seed(int(seed))

    def max_memory_allocated(self) -> int | None:
        """Peak bytes allocated on the device since start (None where unknown)."""
        return None


class CPUBackend(DeviceBackend):
    name = "cpu"

    def max_memory_allocated(self) -> int | None:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class CUDABackend(DeviceBackend):
    name = "cuda"
    device_type = "cuda"
    precisions = ("fp32", "fp16", "bf16")

    def is_available(self) -> bool:
        return torch.cuda.is_available()

    def unavailable_reason(self) -> str:
        return "device=cuda requested but CUDA is not available (torch.cuda.is_available() is False); use device=cpu or device=auto"

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)

    def max_memory_allocated(self) -> int | None:
        return torch.cuda.max_memory_allocated(self.device)


class MLUBackend(DeviceBackend):
    """Cambricon MLU through torch_mlu (``import torch_mlu`` adds ``torch.mlu``)."""

    name = "mlu"
    device_type = "mlu"
    precisions = ("fp32", "fp16")

    def _torch_mlu(self) -> Any | None:
        try:
            return importlib.import_module("torch_mlu")
        except ImportError:
            return None

    def is_available(self) -> bool:
        return self._torch_mlu() is not None and bool(getattr(torch, "mlu", None)) and torch.mlu.is_available()

    def unavailable_reason(self) -> str:
        if self._torch_mlu() is None:
            return "device=mlu requested but torch_mlu is not installed (Cambricon's PyTorch extension); install it or use device=cpu"
        return "device=mlu requested but no MLU device is available (torch.mlu.is_available() is False)"

    def synchronize(self) -> None:
        torch.mlu.synchronize()

    def max_memory_allocated(self) -> int | None:
        return torch.mlu.max_memory_allocated()


class AutoBackend:
    """Picks cuda, then mlu, then cpu."""

    def __new__(cls, index: int | None = None, threads: int | None = None) -> DeviceBackend:  # type: ignore[misc]
        for backend in (CUDABackend, MLUBackend):
            candidate = backend(index, threads)
            if candidate.is_available():
                return candidate
        return CPUBackend(index, threads)


def _factory(backend: type):
    def build(cfg: Any, context: Any) -> DeviceBackend:
        return backend(cfg.get("index"), cfg.get("threads"))

    return build


@hookimpl
def ttsfw_register_devices(register):
    register("cpu", _factory(CPUBackend))
    register("cuda", _factory(CUDABackend), aliases=["gpu"])
    register("mlu", _factory(MLUBackend))
    register("auto", _factory(AutoBackend))
