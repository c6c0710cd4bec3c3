"""`python -m ttsfw convert`: legacy NVIDIA pickles become plain tensor files, only with --trust,
without NVIDIA's code, and nothing but a WaveGlow's classes is ever unpickled."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from ttsfw.weights.convert import main
from ttsfw.errors import CheckpointError


@pytest.fixture
def legacy(golden):
    return golden / "waveglow" / "legacy_nvidia_pickle.pt"


def test_refuses_without_trust(legacy, tmp_path):
    with pytest.raises(
        CheckpointError,
        match=(
            r"legacy_nvidia_pickle.pt is a pickled whole-model file; converting it means unpickling Python "
            r"objects, which can run code stored in the file. If you trust its source, run again with --trust"
        ),
    ):
        main([str(legacy), str(tmp_path / "out.pt")])
    assert not (tmp_path / "out.pt").exists()


def test_trusted_conversion_equals_the_fused_state_dict(legacy, golden, tmp_path, capsys):
    out = tmp_path / "out.pt"
    assert main([str(legacy), str(out), "--trust"]) == 0
    assert f"wrote {out}: 86 tensors" in capsys.readouterr().out
    converted = torch.load(out, map_location="cpu", weights_only=True)
    expected = torch.load(
        golden / "waveglow" / "ckpt_nvidia_fused.pt", map_location="cpu", weights_only=True
    )
    assert list(converted) == list(expected)
    for key, tensor in expected.items():
        assert type(converted[key]) is torch.Tensor and torch.equal(converted[key], tensor), key
    assert "glow" not in sys.modules  # NVIDIA's module was never needed


@pytest.fixture
def zip_pickle(legacy, tmp_path, monkeypatch):
    """Save `obj(model)` as a zip-format code pickle, as torch >= 1.6 writes NVIDIA's WaveGlow."""
    glow = types.ModuleType("glow")  # empty stand-ins are enough to unpickle, and to pickle again
    for name in ("WaveGlow", "WN", "Invertible1x1Conv"):
        setattr(glow, name, type(name, (torch.nn.Module,), {"__module__": "glow"}))

    def save(obj) -> Path:
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, "glow", glow)
            model = torch.load(legacy, map_location="cpu", weights_only=False)["model"]
            torch.save(obj(model), tmp_path / "zip.pt")
        return tmp_path / "zip.pt"

    return save


@pytest.mark.parametrize(
    "wrap", [lambda model: {"model": model}, lambda model: model], ids=["dict", "bare"]
)
def test_zip_format_and_bare_pickles_convert_too(zip_pickle, golden, tmp_path, wrap):
    main([str(zip_pickle(wrap)), str(tmp_path / "out.pt"), "--trust"])
    expected = torch.load(
        golden / "waveglow" / "ckpt_nvidia_fused.pt", map_location="cpu", weights_only=True
    )
    converted = torch.load(tmp_path / "out.pt", map_location="cpu", weights_only=True)
    assert all(torch.equal(converted[key], tensor) for key, tensor in expected.items())


class OldBackend:
    """What torch <= 1.0 pickled as every module's `_backend` attribute."""

    def __reduce__(self):
        from torch.nn.backends.thnn import _get_thnn_function_backend

        return (_get_thnn_function_backend, ())


def test_pickles_from_torch_1_0_convert(zip_pickle, tmp_path):
    def old_style(model):
        for module in model.modules():
            module._backend = OldBackend()
        return {"model": model}

    main([str(zip_pickle(old_style)), str(tmp_path / "out.pt"), "--trust"])
    assert len(torch.load(tmp_path / "out.pt", weights_only=True)) == 86


def test_a_pickle_without_a_model_is_named(zip_pickle, tmp_path):
    path = zip_pickle(lambda model: {"generator": model, "iteration": 3})
    with pytest.raises(
        CheckpointError,
        match=r"expected NVIDIA/waveglow's \{'model': WaveGlow\} pickle, found keys \['generator', 'iteration'\]",
    ):
        main([str(path), str(tmp_path / "out.pt"), "--trust"])


class Payload:
    """Unpickling this would run code (exec: a global nothing else replaces, unlike print,
    which Ray swaps for its own when imported)."""

    def __reduce__(self):
        return (exec, ("print('the pickle ran code')",))


def test_trust_still_unpickles_nothing_but_a_waveglow(tmp_path, capsys):
    torch.save({"model": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(
        CheckpointError,
        match=r"evil.pt: the file needs builtins.exec, which a WaveGlow model file does not; refusing",
    ):
        main([str(tmp_path / "evil.pt"), str(tmp_path / "out.pt"), "--trust"])
    assert "the pickle ran code" not in capsys.readouterr().out
    assert not (tmp_path / "out.pt").exists()


def test_refuses_what_needs_no_conversion_or_would_be_overwritten(legacy, golden, tmp_path):
    with pytest.raises(
        CheckpointError, match=r"ckpt_dle.pt already holds only tensors: use it as it is"
    ):
        main([str(golden / "waveglow" / "ckpt_dle.pt"), str(tmp_path / "out.pt"), "--trust"])
    (tmp_path / "taken.pt").write_bytes(b"")
    with pytest.raises(
        CheckpointError, match=r"taken.pt already exists; remove it or choose another output path"
    ):
        main([str(legacy), str(tmp_path / "taken.pt"), "--trust"])
    with pytest.raises(CheckpointError, match=r"no such file: .*missing.pt"):
        main([str(tmp_path / "missing.pt"), str(tmp_path / "out.pt"), "--trust"])


def test_help_explains_trust(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--trust" in text and "can make Python run any code it names" in text


def test_command_line_prints_one_line_error(legacy, tmp_path):
    env = {**os.environ, "TTSFW_PLUGINS": ""}
    result = subprocess.run(
        [sys.executable, "-m", "ttsfw", "convert", str(legacy), str(tmp_path / "out.pt")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("ttsfw: error: ") and "run again with --trust" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
