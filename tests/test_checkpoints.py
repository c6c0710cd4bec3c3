"""The shared safe loader: weights_only, map_location, prefixes, and what users see on bad files."""

from __future__ import annotations

import pytest
import torch

from ttsfw.weights.load import load_checkpoint, strip_module_prefix, unwrap
from ttsfw.errors import CheckpointError, LegacyCheckpointError


def test_legacy_cuda_tagged_file_loads_on_cpu(golden):
    ckpt = load_checkpoint(golden / "tacotron2" / "ckpt_dle.pt")  # storages tagged cuda:0
    state, config = unwrap(ckpt)
    assert config["n_symbols"] == 148
    assert "embedding.weight" in state and not any(k.startswith("module.") for k in state)
    assert state["embedding.weight"].device.type == "cpu"


def test_code_pickle_is_refused_with_both_ways_to_convert_it(golden):
    path = golden / "waveglow" / "legacy_nvidia_pickle.pt"
    with pytest.raises(LegacyCheckpointError) as err:
        load_checkpoint(path)
    assert isinstance(err.value, CheckpointError)  # the CLI prints it as one line
    assert str(err.value) == (
        f"{path} holds pickled Python objects, not just tensors (Unsupported global: GLOBAL "
        f"glow.WaveGlow). If it is a whole-model NVIDIA/waveglow file and you trust its source, "
        f"convert it once with `python -m ttsfw convert {path} OUT.pt --trust` (in Python: "
        f"`ttsfw.load_waveglow(path, trust=True)`)"
    )


def test_garbage_is_not_mistaken_for_a_code_pickle(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"garbage bytes, not a checkpoint")
    with pytest.raises(CheckpointError, match=r"is not a torch checkpoint or is corrupt \(.+\); check the file"):
        load_checkpoint(path)


def test_truncated_zip_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=r"is not a readable torch checkpoint \(zip container; truncated or corrupt\?"):
        load_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found: .*nope.pt .*python -m ttsfw download"):
        load_checkpoint(tmp_path / "nope.pt")


def test_only_a_leading_module_prefix_is_stripped():
    state = {"module.1.a": 1, "module.b": 2, "c.module.d": 3, "module.module.e": 4}
    assert strip_module_prefix(state) == {"a": 1, "b": 2, "c.module.d": 3, "module.e": 4}


def test_unwrap_rejects_files_without_tensors():
    with pytest.raises(CheckpointError, match=r"no tensors found \(top-level keys: \['epoch'\]\)"):
        unwrap({"epoch": 3})
    with pytest.raises(CheckpointError, match="expected a dict of tensors, found list"):
        unwrap([1, 2])
