"""Device backends: cpu for real, cuda where present, mlu through a stand-in torch_mlu."""

from __future__ import annotations

import subprocess
import sys
import types
import warnings

import pytest
import torch
from omegaconf import OmegaConf

from conftest import TOY
from ttsfw.config import compose_config
from ttsfw import Pipeline, devices
from ttsfw.devices import CPUBackend, CUDABackend, MLUBackend, pick_auto
from ttsfw.errors import ConfigError, DeviceError
from ttsfw.plugins import get_registry
from ttsfw.registry import BuildContext

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def build(name: str, **options):
    """The device `name` as its config file composes it, with `options` changed."""
    cfg = OmegaConf.create({**OmegaConf.to_container(compose_config([f"device={name}"])[0].device), **options})  # the schema checks it
    return get_registry().build("device", cfg, BuildContext())


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_every_backend_is_registered_through_the_hook():
    registry = get_registry()
    assert registry.names("device") == ["auto", "cpu", "cuda", "mlu"]
    assert registry.get("device", "gpu").name == "cuda"
    assert {registry.get("device", n).plugin for n in registry.names("device")} == {"ttsfw.builtins"}


def test_cpu_backend():
    cpu = build("cpu")
    cpu.prepare()
    assert cpu.is_available() and cpu.device == torch.device("cpu")
    cpu.synchronize()  # a no-op, but callable
    assert cpu.precisions() == ("fp32", "bf16")
    assert cpu.peak_memory_bytes() > 10 * 2**20  # the process holds torch: > 10 MiB resident
    assert cpu.describe().startswith("cpu (")


def test_cpu_autocast_runs_matmuls_in_the_precision():
    cpu = build("cpu")
    a = torch.ones(4, 4)
    with cpu.autocast("fp32"):
        assert (a @ a).dtype == torch.float32
    with cpu.autocast("bf16"):
        assert (a @ a).dtype == torch.bfloat16


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_bf16_arithmetic_is_named_as_slow(toy, monkeypatch, native):
    monkeypatch.setattr(devices, "cpu_has_native", lambda name: native or name == "fp32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Pipeline.from_overrides([*TOY, "precision=bf16"])
        Pipeline.from_overrides([*TOY, "precision=fp32"])
    slow = [str(w.message) for w in caught if issubclass(w.category, devices.SlowPrecisionWarning)]
    if native:
        assert slow == []
    else:
        assert len(slow) == 1 and slow[0].startswith("precision=bf16: this CPU (")
        assert "slower than fp32, convolutions ~100x" in slow[0] and "Use precision=fp32 here" in slow[0]


def test_generator_is_seeded_and_on_the_device():
    cpu = build("cpu")
    assert cpu.generator(None) is None
    first, second = cpu.generator(7), cpu.generator(7)
    assert first.device == torch.device("cpu")
    assert torch.equal(torch.randn(5, generator=first), torch.randn(5, generator=second))
    assert not torch.equal(
        torch.randn(5, generator=cpu.generator(8)), torch.randn(5, generator=cpu.generator(7))
    )


def test_threads_are_applied(restore_threads):
    build("cpu", threads=1).prepare()
    assert torch.get_num_threads() == 1


def test_threads_through_the_pipeline(toy, restore_threads):
    Pipeline.from_overrides([*TOY, "device.threads=1"])
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (
            ["precision=fp16"],
            DeviceError,
            "precision=fp16 is not supported on device 'cpu'; use one of: fp32, bf16",
        ),
        (["precision=fp8"], ConfigError, "unknown precision 'fp8'; choose one of fp32, fp16, bf16"),
        (["device=tpu"], ConfigError, "unknown device 'tpu'; available: auto, cpu, cuda, mlu"),
        (["device.name=tpu"], ConfigError, "unknown device 'tpu'; available: auto, cpu, cuda, mlu"),
        (
            ["device.threads=0"],
            ConfigError,
            "device.threads must be a positive integer (or null), got 0",
        ),
        (["+device.index=1"], ConfigError, "unknown config key 'device.index'; known: name, threads, workers, reuse_memory"),
        (["device=mlu"], DeviceError, "device=mlu requested but torch_mlu is not installed"),
    ],
)
def test_bad_device_settings_are_one_clear_error(toy, overrides, error, message):
    with pytest.raises(error) as caught:
        Pipeline.from_overrides([*TOY, *overrides])
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@no_cuda
def test_cuda_absent_is_one_clear_error():
    with pytest.raises(
        DeviceError,
        match=r"^device=cuda requested but CUDA is not available .*use device=cpu or device=auto$",
    ):
        build("cuda").prepare()


@needs_cuda
def test_cuda_backend():
    cuda = build("cuda", index=0)
    cuda.prepare()
    assert cuda.device == torch.device("cuda", 0)
    assert {"fp32", "fp16"} <= set(cuda.precisions())
    cuda.reset_peak_memory()
    x = torch.ones(1024, 1024, device=cuda.device)  # 4 MiB
    with cuda.autocast("fp16"):
        assert (x @ x).dtype == torch.float16
    cuda.synchronize()
    assert cuda.peak_memory_bytes() >= 4 * 2**20
    g1, g2 = cuda.generator(3), cuda.generator(3)
    assert g1.device.type == "cuda"
    assert torch.equal(
        torch.randn(8, device=cuda.device, generator=g1),
        torch.randn(8, device=cuda.device, generator=g2),
    )
    with pytest.raises(
        DeviceError, match=r"device.index=99 but only \d+ cuda device\(s\) are visible"
    ):
        build("cuda", index=99).prepare()


@no_cuda
def test_auto_falls_back_to_cpu_here():
    auto = build("auto", threads=2)
    assert isinstance(auto, CPUBackend) and auto.threads == 2


def test_auto_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert isinstance(pick_auto(), CUDABackend)


# -- mlu, through a stand-in for Cambricon's torch_mlu ---------------------------------------


class FakeMLU(types.SimpleNamespace):
    """What ``import torch_mlu`` adds as ``torch.mlu`` (the part ttsfw uses), recording calls."""

    def __init__(self, available: bool = True, count: int = 2):
        super().__init__(calls=[], available=available, count=count)

    def is_available(self):
        return self.available

    def device_count(self):
        return self.count

    def synchronize(self):
        self.calls.append("synchronize")

    def reset_peak_memory_stats(self):
        self.calls.append("reset_peak_memory_stats")

    def max_memory_allocated(self):
        return 123_456

    def get_device_name(self, index):
        return f"MLU370-X4 #{index}"

    def get_amp_supported_dtype(self):  # asked by torch.autocast("mlu", ...)
        return [torch.float16]


@pytest.fixture
def fake_mlu(monkeypatch):
    """Inject a stand-in torch_mlu. Like the real one it names torch's private-use backend
    "mlu" and adds ``torch.mlu``. The rename is process-wide and permanent, and torch then
    looks for ``torch.mlu`` (e.g. when seeding), so an unavailable stand-in stays behind."""
    if torch._C._get_privateuse1_backend_name() == "privateuseone":
        torch.utils.rename_privateuse1_backend("mlu")
    mlu = FakeMLU()
    monkeypatch.setitem(sys.modules, "torch_mlu", types.ModuleType("torch_mlu"))
    monkeypatch.setattr(torch, "mlu", mlu, raising=False)
    yield mlu
    monkeypatch.undo()
    torch.mlu = FakeMLU(available=False, count=0)


def test_mlu_backend_with_a_stand_in(fake_mlu):
    mlu = build("mlu", index=1)
    mlu.prepare()
    assert mlu.device == torch.device("mlu", 1)
    assert mlu.precisions() == ("fp32", "fp16")
    mlu.synchronize()
    mlu.reset_peak_memory()
    assert fake_mlu.calls == ["synchronize", "reset_peak_memory_stats"]
    assert mlu.peak_memory_bytes() == 123_456
    assert mlu.describe() == "mlu:1 (MLU370-X4 #1)"
    context = mlu.autocast("fp16")
    assert (context.device, context.fast_dtype) == ("mlu", torch.float16)
    with pytest.raises(
        DeviceError, match="precision=bf16 is not supported on device 'mlu'; use one of: fp32, fp16"
    ):
        mlu.check_precision("bf16")
    fake_mlu.is_bf16_supported = lambda: True
    assert "bf16" in mlu.precisions()


def test_mlu_index_out_of_range(fake_mlu):
    with pytest.raises(
        DeviceError,
        match=r"^device.index=2 but only 2 mlu device\(s\) are visible; use device.index=0..1",
    ):
        build("mlu", index=2).prepare()


def test_mlu_installed_but_no_device(fake_mlu):
    fake_mlu.available = False
    with pytest.raises(
        DeviceError,
        match=r"^device=mlu requested but no MLU is visible \(torch.mlu.is_available\(\) is False\)",
    ):
        build("mlu").prepare()


def test_mlu_absent(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "torch_mlu", None
    )  # makes `import torch_mlu` raise ImportError
    backend = build("mlu")
    assert not backend.is_available()
    with pytest.raises(DeviceError) as caught:
        backend.prepare()
    assert str(caught.value) == (
        "device=mlu requested but torch_mlu is not installed (Cambricon's PyTorch extension); "
        "install torch_mlu on an MLU machine or use device=cpu"
    )


def test_mlu_broken_install_is_named(monkeypatch):
    def broken_import(name, *args, **kwargs):
        if name == "torch_mlu":
            raise RuntimeError("torch_mlu 1.20 needs torch 2.4\nmore detail")
        return real_import(name, *args, **kwargs)

    real_import = devices.importlib.import_module
    monkeypatch.setattr(devices.importlib, "import_module", broken_import)
    with pytest.raises(
        DeviceError,
        match=r"^device=mlu requested but torch_mlu failed to import \(RuntimeError: torch_mlu 1.20 needs torch 2.4\); ",
    ):
        MLUBackend().prepare()


@no_cuda
def test_auto_picks_mlu_when_there_is_no_cuda(fake_mlu):
    assert isinstance(build("auto"), MLUBackend)
    fake_mlu.available = False
    assert isinstance(build("auto"), CPUBackend)


MMAPPED_AFTER_PREPARE = """
import ctypes, torch
from ttsfw.plugins import get_registry
from ttsfw.registry import BuildContext
from omegaconf import OmegaConf

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
cfg = OmegaConf.create({"name": "cpu", "threads": None, "workers": 1, "reuse_memory": %s})
get_registry().build("device", cfg, BuildContext()).prepare()
block = torch.empty(64 * 2**20, dtype=torch.uint8)
print(libc.mallinfo2().hblkhd)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("reuse", [True, False])
def test_reuse_memory_keeps_big_blocks_off_mmap(reuse):
    """reuse_memory (the default) serves a 64 MiB tensor from the heap, where freed pages are
    reused; without it glibc maps such a block fresh (and unmaps it on free) every time."""
    script = MMAPPED_AFTER_PREPARE % reuse
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert (int(run.stdout) < 64 * 2**20) == reuse
