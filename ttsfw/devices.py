"""Device backends (cpu, cuda, mlu, auto), registered through the device hook.

A backend answers, for one kind of device: is it here, which ``torch.device``, wait for the
work queued on it, an autocast context for a precision, the peak memory, and a seeded
generator. ``auto`` picks cuda, then mlu, then cpu.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import resource
import sys
from typing import Any, ContextManager

import torch

from .errors import ConfigError, DeviceError
from .precision import Precision, cpu_has_native, dtype
from .threads import ThreadPolicy


class SlowPrecisionWarning(UserWarning):
    """The precision asked for runs here, but slower than fp32 (no hardware for it)."""


class DeviceBackend:
    """One kind of device. Subclasses set `name`, `device_type` and override what differs."""

    name: str = "cpu"
    device_type: str = "cpu"

    def __init__(self, index: int | None = None, threads: int | None = None):
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ConfigError(
                f"device.threads must be a positive integer (or null), got {threads!r}"
            )
        if index is not None and (not isinstance(index, int) or index < 0):
            raise ConfigError(
                f"device.index must be a non-negative integer (or null), got {index!r}"
            )
        self.index = index
        self.threads = threads

    def is_available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        return f"device={self.name} is not available on this machine; use device=cpu or device=auto"

    def device_count(self) -> int:
        return 1

    @property
    def device(self) -> torch.device:
        return torch.device(self.device_type, self.index)

    def prepare(self) -> None:
        """Fail with one clear line if the device is missing; apply `threads` (host threads)."""
        if not self.is_available():
            raise DeviceError(self.unavailable_reason())
        if self.index is not None and self.index >= self.device_count():
            raise DeviceError(
                f"device.index={self.index} but only {self.device_count()} {self.name} device(s) are "
                f"visible; use device.index=0..{self.device_count() - 1} or leave it null"
            )
        if self.threads:
            torch.set_num_threads(self.threads)

    def synchronize(self) -> None:
        """Wait until the work queued on the device is done (a no-op on CPU)."""

    def stage(self, name: str) -> ContextManager:
        """Context in which stage `name` runs (the CPU backend chooses its threads there)."""
        return contextlib.nullcontext()

    def thread_report(self) -> dict[str, Any]:
        """How many host threads the stages ran with (the CPU backend: per stage)."""
        return {"policy": "fixed" if self.threads else "torch default", "threads": torch.get_num_threads()}

    def precisions(self) -> tuple[str, ...]:
        """The precisions this device runs."""
        return ("fp32", "bf16")

    def check_precision(self, precision: str) -> None:
        Precision(precision)  # a known name
        if precision not in self.precisions():
            raise DeviceError(
                f"precision={precision} is not supported on device '{self.name}'; "
                f"use one of: {', '.join(self.precisions())}"
            )

    def slow_precision(self, precision: str) -> str | None:
        """Why `precision` (one it runs) would be slower here than fp32, or None."""
        return None

    def autocast(self, precision: str) -> ContextManager:
        """Context that runs eligible ops in `precision` (fp32: nothing changes). Components
        keep numerically delicate parts in fp32 themselves (``torch.autocast(..., enabled=False)``).
        """
        self.check_precision(precision)
        if precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=dtype(precision))

    def generator(self, seed: int | None) -> torch.Generator | None:
        """A generator on this device seeded with `seed` (None: the global RNG)."""
        if seed is None:
            return None
        return torch.Generator(device=self.device).manual_seed(int(seed))

    def reset_peak_memory(self) -> None:
        """Start a new peak-memory measurement (where the device allows it)."""

    def peak_memory_bytes(self) -> int | None:
        """Peak memory since the last reset, in bytes (None where unknown)."""
        return None

    def describe(self) -> str:
        """One line naming the hardware, for reports."""
        return str(self.device)


class CPUBackend(DeviceBackend):
    """The host CPU. Each stage runs with the threads of a `ThreadPolicy`: adaptive to the
    cores free of other work (`threads` None, the default) or `threads` fixed; `workers`
    processes share the cores. `reuse_memory` keeps freed memory in the process for reuse
    (`keep_freed_memory`). Peak memory is the process's peak resident set size since start
    (it cannot be reset)."""

    name = "cpu"

    def __init__(self, threads: int | None = None, reuse_memory: bool = True, workers: int = 1):
        super().__init__(None, threads)
        if not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"device.workers must be a positive integer, got {workers!r}")
        self.reuse_memory = reuse_memory
        self.policy = ThreadPolicy(threads, workers)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def prepare(self) -> None:
        super().prepare()
        if self.reuse_memory:
            keep_freed_memory()

    def stage(self, name: str) -> ContextManager:
        return self.policy.stage(name)

    def slow_precision(self, precision: str) -> str | None:
        if cpu_has_native(precision):
            return None
        return (
            f"precision={precision}: this CPU ({torch.backends.cpu.get_cpu_capability()}, no AVX-512 "
            f"or AMX) has no {precision} arithmetic, so torch emulates it: slower than fp32, "
            f"convolutions ~100x (HiFi-GAN V2 ~20x, on an AVX2 EPYC). Use precision=fp32 here; "
            f"quantize=int8 still speeds the decoder up"
        )

    def thread_report(self) -> dict[str, Any]:
        return self.policy.report()

    def peak_memory_bytes(self) -> int | None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # macOS: bytes, Linux: KiB

    def describe(self) -> str:
        threads = self.threads or f"adaptive 1-{self.policy.cpus}"
        return f"cpu ({threads} threads of {self.policy.cpus} cores)"


class CUDABackend(DeviceBackend):
    """NVIDIA GPUs (and ROCm builds of torch, which answer to "cuda")."""

    name = "cuda"
    device_type = "cuda"

    def is_available(self) -> bool:
        return torch.cuda.is_available()

    def unavailable_reason(self) -> str:
        return (
            "device=cuda requested but CUDA is not available (torch.cuda.is_available() is False); "
            "use device=cpu or device=auto"
        )

    def device_count(self) -> int:
        return torch.cuda.device_count()

    def prepare(self) -> None:
        """As the base class; also turns TF32 off so that fp32 means fp32 (TF32 convolutions
        and matmuls miss the reference by ~1e-3; PyTorch enables TF32 for cuDNN by default)."""
        super().prepare()
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)

    def precisions(self) -> tuple[str, ...]:
        return ("fp32", "fp16", "bf16") if torch.cuda.is_bf16_supported() else ("fp32", "fp16")

    def reset_peak_memory(self) -> None:
        torch.cuda.reset_peak_memory_stats(self.device)

    def peak_memory_bytes(self) -> int | None:
        return torch.cuda.max_memory_allocated(self.device)

    def describe(self) -> str:
        return f"{self.device} ({torch.cuda.get_device_name(self.device)})"


class MLUBackend(DeviceBackend):
    """Cambricon MLUs through torch_mlu: ``import torch_mlu`` adds the device type "mlu" and
    ``torch.mlu`` (synchronize, memory stats, ... as ``torch.cuda``). Untested on real MLUs here."""

    name = "mlu"
    device_type = "mlu"

    def _import_error(self) -> str | None:
        """Why torch_mlu cannot be imported (None: it can)."""
        try:
            importlib.import_module("torch_mlu")
        except ImportError:
            return "torch_mlu is not installed (Cambricon's PyTorch extension)"
        except Exception as exc:  # a torch_mlu built for another torch fails in odd ways
            first_line = next(iter(str(exc).splitlines()), "")
            return f"torch_mlu failed to import ({type(exc).__name__}: {first_line})"
        return None

    def is_available(self) -> bool:
        return self._import_error() is None and hasattr(torch, "mlu") and torch.mlu.is_available()

    def unavailable_reason(self) -> str:
        problem = self._import_error() or "no MLU is visible (torch.mlu.is_available() is False)"
        return f"device=mlu requested but {problem}; install torch_mlu on an MLU machine or use device=cpu"

    def device_count(self) -> int:
        return torch.mlu.device_count()

    def synchronize(self) -> None:
        torch.mlu.synchronize()

    def precisions(self) -> tuple[str, ...]:
        bf16 = getattr(torch.mlu, "is_bf16_supported", lambda: False)()
        return ("fp32", "fp16", "bf16") if bf16 else ("fp32", "fp16")

    def reset_peak_memory(self) -> None:
        torch.mlu.reset_peak_memory_stats()

    def peak_memory_bytes(self) -> int | None:
        return torch.mlu.max_memory_allocated()

    def describe(self) -> str:
        name = getattr(torch.mlu, "get_device_name", None)
        return f"{self.device} ({name(self.index or 0)})" if name else str(self.device)


def keep_freed_memory() -> bool:
    """Make glibc serve big blocks from the heap and never trim it, so the pages of a freed
    activation are reused instead of being unmapped and faulted in again on the next
    allocation. Measured: WaveGlow-256 on 754 frames ~20% faster. The process then keeps its
    peak memory until it exits. Returns False (and changes nothing) off glibc."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


def pick_auto(index: int | None = None, threads: int | None = None, workers: int = 1) -> DeviceBackend:
    """The first available of cuda, mlu, cpu."""
    for backend in (CUDABackend, MLUBackend):
        candidate = backend(index, threads)
        if candidate.is_available():
            return candidate
    return CPUBackend(threads, workers=workers)


def build_cpu(cfg: Any, context: Any) -> DeviceBackend:
    """Factory for ``device: {name: cpu, threads: ..., workers: ..., reuse_memory: ...}``."""
    return CPUBackend(cfg.threads, cfg.reuse_memory, cfg.workers)


def build_cuda(cfg: Any, context: Any) -> DeviceBackend:
    return CUDABackend(cfg.index, cfg.threads)


def build_mlu(cfg: Any, context: Any) -> DeviceBackend:
    return MLUBackend(cfg.index, cfg.threads)


def build_auto(cfg: Any, context: Any) -> DeviceBackend:
    return pick_auto(cfg.index, cfg.threads, cfg.workers)
