"""`python -m ttsfw` end to end with real-format checkpoints written on the fly (tiny sizes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import soundfile as sf
import torch

from ttsfw.components.tacotron2.model import Tacotron2, Tacotron2Config

TINY = dict(
    symbols_embedding_dim=32, encoder_embedding_dim=32, attention_rnn_dim=32, decoder_rnn_dim=32,
    prenet_dim=16, attention_dim=16, postnet_embedding_dim=16,
)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """The same tiny weights in NVIDIA/tacotron2's layout and in DLE's."""
    root = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    state = Tacotron2(Tacotron2Config(**TINY)).state_dict()
    state["decoder.gate_layer.linear_layer.bias"].fill_(-50.0)  # random weights: never stop early
    nvidia = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": nvidia}, root / "tacotron2_statedict.pt")
    dle = {"epoch": 3, "config": {**TINY, "n_symbols": 148}, "state_dict": {f"module.{k}": v for k, v in state.items()}}
    torch.save(dle, root / "tacotron2_dle.pt", _use_new_zipfile_serialization=False)
    return root


def speak(tmp_path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TTSFW_PLUGINS": ""}
    return subprocess.run(
        [sys.executable, "-m", "ttsfw", f"hydra.run.dir={tmp_path / 'out'}", "vocoder=griffinlim",
         "vocoder.n_iter=2", "acoustic.max_decoder_steps=20", *overrides],
        cwd=tmp_path, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )


@pytest.mark.parametrize("name", ["tacotron2_statedict.pt", "tacotron2_dle.pt"])
def test_cli_speaks_with_a_real_format_checkpoint(tmp_path, checkpoints, name):
    result = speak(
        tmp_path, f"acoustic.checkpoint={checkpoints / name}", "on_max_steps=warn",
        "text=Hello there.", "plots=true",
    )
    assert "line 1" in result.stderr and "max_decoder_steps" in result.stderr  # named, not silent
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["files"] == ["0001.wav"]
    assert metrics["hit_max_decoder_steps"] == [1]
    audio, rate = sf.read(out / "0001.wav")
    assert rate == 22050 and len(audio) == 20 * 256
    assert metrics["audio_seconds"] == pytest.approx(len(audio) / 22050)
    assert sorted(p.name for p in out.glob("*.png")) == ["0001_alignment.png", "0001_mel.png"]


def test_cli_reports_a_symbol_table_mismatch(tmp_path):
    torch.manual_seed(0)
    state = Tacotron2(Tacotron2Config(**{**TINY, "n_symbols": 149})).state_dict()
    torch.save({"state_dict": state}, tmp_path / "old.pt")
    result = speak(tmp_path, f"acoustic.checkpoint={tmp_path / 'old.pt'}", "text=Hi.")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("ttsfw: error: ") and "149" in line and "148" in line
