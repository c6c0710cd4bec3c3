"""ONNX export (``python -m ttsfw export``) and ``runtime=onnxruntime``: golden parity of the
exported Tacotron2, WaveGlow, denoiser and HiFi-GAN on onnxruntime, the manifest, the engine
and CLI on exported files, int8, and the errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install 'ttsfw[export]'")
pytest.importorskip("onnxruntime", reason="runtime=onnxruntime needs onnxruntime: pip install 'ttsfw[export]'")

from conftest import REPO, TOY  # noqa: E402
from test_tacotron2 import assert_matches, no_max_steps_warning  # noqa: E402
from ttsfw import plugins  # noqa: E402
from ttsfw.components.english.symbols import SYMBOLS  # noqa: E402
from ttsfw.components.onnx.export import export_pipeline, export_stage  # noqa: E402
from ttsfw.components.onnx.manifest import sha256  # noqa: E402
from ttsfw.components.onnx.runtime import OnnxVocoder  # noqa: E402
from ttsfw.components.onnx.session import open_session, providers  # noqa: E402
from ttsfw.components.onnx.tacotron2_graphs import STEP_INPUTS, STEP_OUTPUTS  # noqa: E402
from ttsfw.components.waveglow.load import load_waveglow  # noqa: E402
from ttsfw.config import compose_config  # noqa: E402
from ttsfw.errors import ConfigError  # noqa: E402
from ttsfw.pipeline import Pipeline  # noqa: E402
from ttsfw.stages import MaxDecoderStepsWarning  # noqa: E402
from ttsfw.testing import TINY_TACOTRON2  # noqa: E402

GOLDEN_DECODING = ["acoustic.max_decoder_steps=60", "acoustic.prenet_dropout=false"]
#: a tiny random Tacotron2 that decodes a fixed number of steps (its random gate never fires)
TINY = [
    *TINY_TACOTRON2, "vocoder=griffinlim", "vocoder.n_iter=2", "acoustic.max_decoder_steps=12",
    "acoustic.gate_threshold=1.0", "on_max_steps=warn",
]


def export(tmp_path: Path, *overrides: str) -> Path:
    cfg, choices = compose_config(list(overrides))
    export_pipeline(cfg, choices, tmp_path, 17)
    return tmp_path


def runtime(directory: Path, *overrides: str) -> Pipeline:
    return Pipeline.from_overrides(["runtime=onnxruntime", f"runtime.dir={directory}", *overrides])


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory, golden) -> Path:
    """The golden Tacotron2 (DLE file), WaveGlow (DLE layout) and its denoiser, exported."""
    return export(
        tmp_path_factory.mktemp("golden-onnx"),
        f"acoustic.checkpoint={golden / 'tacotron2' / 'ckpt_dle.pt'}", *GOLDEN_DECODING,
        "vocoder=waveglow", f"vocoder.checkpoint={golden / 'waveglow' / 'ckpt_dle.pt'}",
        "denoiser=waveglow_bias",
    )


@pytest.fixture(scope="module")
def golden_runtime(golden_dir) -> Pipeline:
    """The export run on onnxruntime as the golden cases decode (vocoder sigma and denoiser
    strength: the export's)."""
    return runtime(golden_dir, *GOLDEN_DECODING)


@pytest.fixture(scope="module")
def cases(golden):
    return torch.load(golden / "tacotron2" / "cases.pt", map_location="cpu", weights_only=True)


# -- golden parity on onnxruntime ------------------------------------------------------------


@pytest.mark.parametrize("case", ["b2", "b1", "b1_max"])
def test_exported_tacotron2_matches_the_reference(golden_runtime, cases, case):
    """encoder.onnx + the decoder_step.onnx loop + postnet.onnx: mel 1e-5, gate 1e-4, exact
    mel_lengths, per-row stop (b2), the step limit (b1_max)."""
    c = cases[case]
    with pytest.warns(MaxDecoderStepsWarning) if case == "b1_max" else no_max_steps_warning():
        out = golden_runtime.acoustic.infer_full(c["ids"], c["lengths"])
    assert_matches(out, c)
    assert out.hit_max_steps == ([0] if case == "b1_max" else [])


def test_exported_prenet_dropout_draws_the_reference_masks(golden_dir, cases):
    """The runtime draws the prenet masks from the generator as torch does (b1_dropout)."""
    c = cases["b1_dropout"]
    acoustic = runtime(golden_dir, "acoustic.max_decoder_steps=60", "acoustic.prenet_dropout=true").acoustic
    out = acoustic.infer_full(c["ids"], c["lengths"], torch.Generator().manual_seed(1234))
    assert_matches(out, c)


def test_exported_waveglow_matches_the_reference(golden_dir, golden_runtime, golden):
    io = torch.load(golden / "waveglow" / "io.pt", map_location="cpu", weights_only=True)
    quiet = runtime(golden_dir, "vocoder=waveglow", "vocoder.sigma=0.0").vocoder
    assert (quiet.infer(io["mel"]) - io["audio_sigma0"]).abs().max() <= 1e-4
    vocoder = golden_runtime.vocoder  # sigma 0.6, the export's
    seeded = vocoder.infer(io["mel"], torch.Generator().manual_seed(1234))
    assert (seeded - io["audio_sigma0.6_seed1234"]).abs().max() <= 1e-4
    feed = {"mel": io["mel"].numpy(), "noise_0": 0.6 * io["noise_0"].numpy(), "noise_1": 0.6 * io["noise_1"].numpy()}
    (injected,) = vocoder.session.run(None, feed)
    assert np.abs(injected - io["audio_sigma0.6_seed1234"].numpy()).max() <= 1e-4


def test_waveglow_in_nvidias_fused_layout_exports_the_same_audio(golden, tmp_path):
    model = load_waveglow(golden / "waveglow" / "ckpt_nvidia_fused.pt", sigma=0.0)
    entry = export_stage("vocoder", model, OmegaConf.create({"name": "waveglow"}), tmp_path, 17)
    vocoder = OnnxVocoder(open_session(tmp_path / "waveglow.onnx", "cpu"), entry, sigma=0.0)
    io = torch.load(golden / "waveglow" / "io.pt", map_location="cpu", weights_only=True)
    assert (vocoder.infer(io["mel"]) - io["audio_sigma0"]).abs().max() <= 1e-4


def test_exported_denoiser_matches_the_reference(golden_runtime, golden):
    reference = torch.load(golden / "denoiser" / "denoiser.pt", map_location="cpu", weights_only=True)
    denoiser = golden_runtime.denoiser
    assert denoiser.strength == 0.01  # the export's, as the config's denoiser is none
    for strength in ("0.01", "0.1"):
        out = denoiser(reference["audio_in"], float(strength))
        assert (out - reference[f"denoised_{strength}"].squeeze(1)).abs().max() <= 1e-4


@pytest.mark.parametrize("case", ["resblock1", "resblock2"])
def test_hifigan_plugin_exports_its_generator_through_the_hook(golden, tmp_path, monkeypatch, case):
    monkeypatch.syspath_prepend(str(REPO / "plugins" / "ttsfw-hifigan" / "src"))
    from ttsfw_hifigan import plugin as hifigan_plugin
    from ttsfw_hifigan.factory import build_hifigan

    plugins.get_plugin_manager().register(hifigan_plugin, name="hifigan")
    cfg = OmegaConf.load(REPO / "plugins/ttsfw-hifigan/src/ttsfw_hifigan/conf/vocoder/hifigan_v1.yaml")
    del cfg["defaults"]
    cfg.checkpoint = str(golden / "hifigan" / case / "generator")
    entry = export_stage("vocoder", build_hifigan(cfg, None), cfg, tmp_path, 17)
    assert entry["graph"]["file"] == "hifigan.onnx" and entry["noise"] == []
    vocoder = OnnxVocoder(open_session(tmp_path / "hifigan.onnx", "cpu"), entry, entry["sigma"])
    io = torch.load(golden / "hifigan" / case / "io.pt", map_location="cpu", weights_only=True)
    assert (vocoder.infer(io["mel"]) - io["audio"].squeeze(1)).abs().max() <= 1e-4


# -- the manifest ----------------------------------------------------------------------------


def test_manifest_describes_every_file(golden_dir):
    manifest = json.loads((golden_dir / "manifest.json").read_text())
    assert (manifest["format"], manifest["version"], manifest["opset"]) == ("ttsfw-onnx", 1, 17)
    files = {"encoder.onnx", "decoder_step.onnx", "postnet.onnx", "waveglow.onnx", "denoiser.onnx"}
    assert set(manifest["sha256"]) == files
    assert all(manifest["sha256"][name] == sha256(golden_dir / name) for name in files)
    frontend, acoustic = manifest["frontend"], manifest["acoustic"]
    assert frontend["symbols"] == list(SYMBOLS) and frontend["settings"]["transliterator"] == "unidecode"
    facts = {"sample_rate": 22050, "hop_length": 256, "n_frames_per_step": 1, "max_decoder_steps": 60,
             "gate_threshold": 0.5}
    assert {key: acoustic[key] for key in facts} == facts
    assert acoustic["prenet_dropout"]["enabled"] is False
    encoder, step = acoustic["graphs"]["encoder"], acoustic["graphs"]["decoder_step"]
    assert encoder["inputs"] == {
        "ids": {"dtype": "int64", "shape": ["batch", "time_in"]},
        "lengths": {"dtype": "int64", "shape": ["batch"]},
    }
    assert encoder["outputs"]["memory"]["shape"] == ["batch", "time_in", 32]
    assert list(step["inputs"]) == list(STEP_INPUTS) and list(step["outputs"]) == list(STEP_OUTPUTS)
    assert step["inputs"]["pad_mask"] == {"dtype": "bool", "shape": ["batch", "time_in"]}
    postnet = acoustic["graphs"]["postnet"]
    assert postnet["outputs"] == {"residual": {"dtype": "float32", "shape": ["batch", 80, "time_out"]}}
    assert acoustic["postnet_context_frames"] == 10
    vocoder = manifest["vocoder"]
    assert vocoder["sigma"] == 0.6 and vocoder["graph"]["outputs"]["audio"]["shape"] == ["batch", "samples"]
    assert [(n["input"], n["channels"], n["samples_per_frame"]) for n in vocoder["noise"]] == [
        ("noise_0", 6, 32), ("noise_1", 2, 32),
    ]
    assert manifest["denoiser"]["strength"] == 0.01


# -- the engine and the CLI on exported files ------------------------------------------------


def test_runtime_streams_as_torch_streams(golden_dir, golden):
    """Pipeline.stream on the exported files: chunks while the decoder runs (the torch model's
    chunking), WaveGlow's noise read from one field, the same audio as torch's stream."""
    sentence = "The forms of printed letters should be beautiful, and their arrangement reasonable."
    overrides = [
        f"acoustic.checkpoint={golden / 'tacotron2' / 'ckpt_dle.pt'}", "acoustic.max_decoder_steps=200",
        "vocoder=waveglow", f"vocoder.checkpoint={golden / 'waveglow' / 'ckpt_dle.pt'}",
        "denoiser=waveglow_bias", "seed=7", "max_chars=200",
    ]
    streamed = list(runtime(golden_dir, *overrides).stream(sentence))
    expected = np.concatenate([chunk.audio for chunk in Pipeline.from_overrides(overrides).stream(sentence)])
    assert len(streamed) >= 3 and [c.final for c in streamed] == [False] * (len(streamed) - 1) + [True]
    audio = np.concatenate([chunk.audio for chunk in streamed])
    assert audio.shape == expected.shape and np.abs(audio - expected).max() <= 1e-4
    assert len(streamed[0].audio) < len(audio) / 2


def test_runtime_speaks_as_torch_does(tmp_path):
    """Long text (six pieces in batches of 3; the graphs were traced at batch 2), two frames a
    step (r = 2, as the shipped voice), prenet dropout and the seed (Griffin-Lim's phases too):
    the same engine, the same mels and audio."""
    overrides = [*TINY, "acoustic.n_frames_per_step=2", "batch_size=3", "max_chars=20"]
    directory = export(tmp_path, *overrides)
    texts = ["A first sentence here. And a second one, longer than the first.", "Short."]
    with pytest.warns(UserWarning, match="max_decoder_steps"):
        expected = Pipeline.from_overrides(overrides).synthesize(texts)
        spoken = runtime(directory, *overrides).synthesize(texts)
    assert len(spoken.utterances) == len(expected.utterances) == 2
    for mine, theirs in zip(spoken.utterances, expected.utterances):
        assert mine.audio.shape == theirs.audio.shape
        assert np.abs(mine.audio - theirs.audio).max() <= 1e-4
    mine, theirs = spoken.utterances[1].mel, expected.utterances[1].mel  # a line of one piece
    assert (mine - theirs).abs().max() <= 1e-5


def test_runtime_cuts_at_the_frame_budget_as_torch_does(tmp_path):
    """acoustic.max_frames_per_symbol on the exported decoder loop (an export without one):
    5 and 3 symbols x 1.5 + 3 frames, in `mels` and in the stream."""
    budget = ["acoustic.max_frames_per_symbol=1.5", "acoustic.frame_budget_base=3"]
    directory = export(tmp_path, *TINY, "acoustic.max_decoder_steps=40")
    ids, lengths = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]]), torch.tensor([5, 3])
    for overrides in (["runtime=onnxruntime", f"runtime.dir={directory}"], []):
        model = Pipeline.from_overrides([*TINY, "acoustic.max_decoder_steps=40", *budget, *overrides]).acoustic
        with pytest.warns(MaxDecoderStepsWarning, match="frame budget"):
            batch = model.mels(ids, lengths)
        assert batch.lengths.tolist() == [11, 8] and batch.hit_max_steps == [0, 1]
        last = list(model.stream_mels(ids, lengths))[-1]
        assert last.lengths.tolist() == [11, 8] and last.hit_max_steps == [0, 1]


def test_runtime_sharpens_the_mel_as_torch_does(tmp_path):
    """acoustic.fine_structure_gain on the exported postnet's output (tacotron2/sharpen.py)."""
    deterministic = [*TINY, "acoustic.prenet_dropout=false"]
    directory = export(tmp_path, *deterministic)
    ids, lengths = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]]), torch.tensor([5, 3])
    mels = {}
    for name, overrides in (("torch", []), ("onnx", ["runtime=onnxruntime", f"runtime.dir={directory}"])):
        for gain in (1.0, 2.0):
            model = Pipeline.from_overrides([*deterministic, f"acoustic.fine_structure_gain={gain}", *overrides]).acoustic
            with pytest.warns(MaxDecoderStepsWarning):
                mels[name, gain] = model.mels(ids, lengths).mel
    assert (mels["onnx", 2.0] - mels["torch", 2.0]).abs().max() <= 1e-5
    assert (mels["onnx", 2.0] - mels["onnx", 1.0]).abs().max() > 1e-2


def test_export_and_runtime_on_the_command_line(tmp_path, capsys):
    export_command = plugins.get_registry().get("command", "export").load()  # python -m ttsfw export
    assert export_command([f"out={tmp_path / 'onnx'}", *TINY]) == 0
    assert f"{tmp_path / 'onnx' / 'manifest.json'}" in capsys.readouterr().out
    (tmp_path / "book.txt").write_text("One line to speak.\nAnother line, and a clause.\n")
    spoken = run_ttsfw(
        tmp_path, "runtime=onnxruntime", f"runtime.dir={tmp_path / 'onnx'}", *TINY, "input=book.txt",
        "batch_size=2", f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert spoken.returncode == 0, spoken.stderr
    assert sorted(p.name for p in (tmp_path / "run").glob("*.wav")) == ["0001.wav", "0002.wav"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["models"]["acoustic"]["formats"]["runtime"] == "onnxruntime (CPUExecutionProvider)"


def run_ttsfw(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "TTSFW_PLUGINS": ""}
    return subprocess.run(
        [sys.executable, "-m", "ttsfw", *args], cwd=cwd, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=300,
    )


def test_int8_decoder_step_reports_its_deviation(golden_dir, cases):
    acoustic = runtime(golden_dir, *GOLDEN_DECODING, "runtime.quantize=int8").acoustic
    assert acoustic.formats()["decoder steps"] == "int8"
    c = cases["b1"]
    deviation = acoustic.deviation_from_fp32(c["ids"], c["lengths"])
    # torch's int8 decoder on this model: mean 0.033, max 0.97 (the golden gate is an integrator)
    assert 0 < deviation["mel_mean_abs_deviation"] < 0.1


# -- errors ----------------------------------------------------------------------------------


def edited_copy(source: Path, target: Path, **manifest_changes) -> Path:
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    (target / "manifest.json").write_text(json.dumps({**manifest, **manifest_changes}))
    return target


def test_runtime_needs_a_directory_with_a_manifest(tmp_path):
    with pytest.raises(ConfigError, match=r"runtime=onnxruntime needs runtime.dir=DIR, a directory written by"):
        Pipeline.from_overrides(["runtime=onnxruntime"])
    with pytest.raises(ConfigError, match=r"holds no manifest.json: export there first with `python -m ttsfw export"):
        runtime(tmp_path)


def test_runtime_refuses_a_changed_file_or_another_format_version(golden_dir, tmp_path):
    changed = edited_copy(golden_dir, tmp_path / "changed")
    with (changed / "postnet.onnx").open("ab") as file:
        file.write(b"\0")
    with pytest.raises(ConfigError, match=r"postnet.onnx does not match its sha256 in .*manifest.json"):
        runtime(changed)
    with pytest.raises(ConfigError, match=r"is version 0 of the export format .* this ttsfw reads version 1"):
        runtime(edited_copy(golden_dir, tmp_path / "old", version=0))


def test_runtime_refuses_a_frontend_with_another_symbol_table(golden_dir, toy):
    with pytest.raises(ConfigError, match=r"the frontend's symbol table \(128 symbols\) differs from the exported model's \(148"):
        runtime(golden_dir, "frontend=toy")


def test_a_missing_onnxruntime_or_onnx_is_one_line_saying_what_to_install(golden_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match=r"onnxruntime is not installed: .* \(pip install 'ttsfw\[export\]'"):
        runtime(golden_dir)
    monkeypatch.setitem(sys.modules, "onnx", None)
    export_command = plugins.get_registry().get("command", "export").load()
    with pytest.raises(ConfigError, match=r"onnx is not installed: ONNX export and runtime=onnxruntime need it"):
        export_command([f"out={tmp_path}", *TINY])


def test_runtime_refuses_torch_precisions(golden_dir):
    with pytest.raises(ConfigError, match=r"runs the exported fp32 graphs, not precision=bf16 \(a torch setting\)"):
        runtime(golden_dir, "precision=bf16")


def test_cuda_needs_onnxruntime_gpu_and_int8_the_cpu():
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(ConfigError, match=r"device=cuda needs onnxruntime's CUDAExecutionProvider.*install onnxruntime-gpu"):
            providers("cuda")
    from ttsfw.components.onnx.session import check_quantize

    with pytest.raises(ConfigError, match=r"runtime.quantize=int8 is onnxruntime's dynamic int8 for the CPU"):
        check_quantize("int8", "cuda")
    with pytest.raises(ConfigError, match=r"runtime.quantize must be one of none, int8, got 'fp8'"):
        check_quantize("fp8", "cpu")


def test_export_refuses_what_it_cannot_write(tmp_path, toy):
    with pytest.raises(ConfigError, match=r"export writes fp32 graphs \(got precision=bf16"):
        export(tmp_path, *TINY, "precision=bf16")
    with pytest.raises(ConfigError, match=r"export knows the tacotron2 acoustic model, not ToyAcoustic"):
        export(tmp_path, *TOY)
    with pytest.raises(ConfigError, match=r"the vocoder toy has no ONNX form: its plugin does not implement the ttsfw_onnx_module hook"):
        export(tmp_path, *TINY_TACOTRON2, "vocoder=toy", "denoiser=none")


def test_export_command_arguments():
    from ttsfw.components.onnx.export import parse_args

    assert parse_args(["out=x", "opset=18", "vocoder=waveglow"]) == (Path("x"), 18, ["vocoder=waveglow"])
    with pytest.raises(ConfigError, match=r"export needs out=DIR, the directory to write the ONNX files to"):
        parse_args(["vocoder=waveglow"])
    with pytest.raises(ConfigError, match=r"opset must be in 14..20 \(default 17\), got 12"):
        parse_args(["out=x", "opset=12"])


def test_runtime_runs_the_learned_postfilter_as_torch_does(tmp_path):
    """acoustic.postfilter is exported as postfilter.onnx; the config must agree with the export."""
    from test_postfilter import random_postfilter, save

    path = save(random_postfilter(), tmp_path / "pf.pt")
    deterministic = [*TINY, "acoustic.prenet_dropout=false", f"acoustic.postfilter={path}"]
    directory = export(tmp_path / "onnx", *deterministic)
    assert (directory / "postfilter.onnx").is_file()
    ids, lengths = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0]]), torch.tensor([5, 3])
    with pytest.warns(MaxDecoderStepsWarning):
        torch_mel = Pipeline.from_overrides(deterministic).acoustic.mels(ids, lengths).mel
    with pytest.warns(MaxDecoderStepsWarning):
        onnx_mel = runtime(directory, *deterministic).acoustic.mels(ids, lengths).mel
    assert (onnx_mel - torch_mel).abs().max() <= 1e-5
    with pytest.raises(ConfigError, match="has a learned postfilter, but acoustic.postfilter=None"):
        runtime(directory, *TINY)
    plain = export(tmp_path / "plain", *TINY)
    with pytest.raises(ConfigError, match="has no learned postfilter, but acoustic.postfilter="):
        runtime(plain, *deterministic)
