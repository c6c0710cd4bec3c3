"""Training: data, losses, the teacher-forced forward, the loop, exact resume and the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from ttsfw.audio.stft import MelSpectrogram
from ttsfw.errors import ConfigError
from ttsfw.components.tacotron2.load import load_tacotron2
from ttsfw.components.tacotron2.model import Tacotron2, Tacotron2Config
from ttsfw.components.english.frontend import EnglishFrontend
from ttsfw.train.data import (
    LengthBucketBatches,
    collate,
    dequantise,
    load_audio,
    load_examples,
    read_filelist,
)
from ttsfw.train.losses import guided_attention_weights, tacotron2_losses
from ttsfw.train.teacher_forcing import teacher_forced
from ttsfw.train.trainer import LAST, Trainer, compose_train_config

TEXTS = [
    "A cat.",
    "The big dog.",
    "Go home now.",
    "Hi!",
    "A red box sat.",
    "Yes, it is.",
    "Look up.",
    "We ran far away.",
]


def speak(text: str, rate: int = 22050) -> np.ndarray:
    """A stand-in voice: 40 ms of a letter-specific tone per character."""
    t = np.arange(int(0.04 * rate)) / rate
    tones = [0.3 * np.sin(2 * np.pi * (200 + 25 * (ord(c) % 32)) * t) for c in text.lower()]
    return np.concatenate(tones).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "wavs").mkdir()
    lines = []
    for n, text in enumerate(TEXTS):
        sf.write(root / "wavs" / f"{n}.wav", speak(text), 22050, subtype="PCM_16")
        lines.append(f"wavs/{n}.wav|{text}")
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    (root / "val.txt").write_text("\n".join(lines[:2]) + "\n")
    return root


def tiny_config(corpus, run_dir, *overrides):
    return compose_train_config(
        [
            "model=tiny",
            f"train_filelist={corpus / 'train.txt'}",
            f"val_filelist={corpus / 'val.txt'}",
            f"run_dir={run_dir}",
            "device=cpu",
            "threads=1",
            "batch_size=4",
            "lr=1e-2",
            "log_every=2",
            "val_every=6",
            "checkpoint_every=6",
            "progress=false",
            *overrides,
        ]
    )


# -- data -------------------------------------------------------------------------------------
def test_filelist_paths_are_relative_to_the_filelist(corpus):
    items = read_filelist(corpus / "train.txt")
    assert items[1] == (corpus / "wavs" / "1.wav", "The big dog.")


@pytest.mark.parametrize(
    "content, message",
    [
        ("wavs/0.wav\n", r"train.txt:1: expected `path.wav\|text`"),
        ("\n\n", "has no utterances"),
    ],
)
def test_bad_filelists_name_the_problem(tmp_path, content, message):
    (tmp_path / "train.txt").write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_filelist(tmp_path / "train.txt")


def test_missing_files_and_wrong_sample_rate(tmp_path):
    with pytest.raises(ConfigError, match="filelist not found"):
        read_filelist(tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="audio file not found"):
        load_audio(tmp_path / "nope.wav", 22050)
    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    with pytest.raises(ConfigError, match="is 16000 Hz but the model expects 22050 Hz"):
        load_audio(tmp_path / "a.wav", 22050)


def test_mels_are_the_inference_mels_and_are_cached(corpus):
    mel = MelSpectrogram()
    examples = load_examples(corpus / "train.txt", EnglishFrontend(), mel)
    assert (corpus / "train.mels.pt").is_file()
    expected = mel(torch.from_numpy(sf.read(corpus / "wavs" / "2.wav", dtype="float32")[0])[None])[
        0
    ]
    assert (dequantise(examples[2].mel) - expected.clamp(max=2.5)).abs().max() <= 0.0276
    assert examples[2].ids.tolist() == EnglishFrontend().text_to_sequence("Go home now.")
    again = load_examples(corpus / "train.txt", EnglishFrontend(), mel)
    assert all(torch.equal(a.mel, b.mel) for a, b in zip(examples, again))


@pytest.mark.parametrize("r", [1, 2, 3])
def test_collate_sorts_pads_and_marks_the_stop_step(corpus, r):
    examples = load_examples(corpus / "train.txt", EnglishFrontend(), MelSpectrogram())
    batch = collate(examples[:3], r)
    assert batch.text_lengths.tolist() == sorted(batch.text_lengths.tolist(), reverse=True)
    steps = [-(-n // r) for n in batch.mel_lengths.tolist()]  # ceil(frames / r)
    assert batch.step_lengths.tolist() == steps
    assert batch.mels.shape[2] == max(steps) * r and batch.gate_targets.shape == (3, max(steps))
    for row, frames in enumerate(batch.mel_lengths.tolist()):
        last_step = (frames - 1) // r  # the step holding the last real frame
        assert batch.gate_targets[row, :last_step].sum() == 0
        assert (batch.gate_targets[row, last_step:] == 1).all()
        assert (batch.mels[row, :, frames:] == np.log(1e-5)).all()


def test_length_buckets_cover_every_item_once_and_are_reproducible():
    lengths = [
        int(x) for x in torch.randint(10, 500, (103,), generator=torch.Generator().manual_seed(0))
    ]
    batches = LengthBucketBatches(lengths, batch_size=8, seed=3, pool=4)
    epoch = batches.epoch(0)
    assert sorted(i for b in epoch for i in b) == list(range(103))
    assert epoch == LengthBucketBatches(lengths, 8, 3, 4).epoch(0) != batches.epoch(1)
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch])
    assert spread < 0.5 * (max(lengths) - min(lengths))
    positions = batches.from_position(0, len(epoch) - 1)
    assert [next(positions)[:2] for _ in range(2)] == [(0, len(epoch) - 1), (1, 0)]


# -- losses and the forward -------------------------------------------------------------------
def test_guided_attention_is_zero_on_the_diagonal_and_outside_the_item():
    weights = guided_attention_weights(torch.tensor([10, 5]), torch.tensor([20, 10]), 0.2, 20, 10)
    assert weights[0, 10, 5] == 0 and weights[0, 0, 0] == 0
    assert weights[0, 19, 0] > 0.9 and weights[0, 0, 9] > 0.6
    assert (weights[1, 10:] == 0).all() and (weights[1, :, 5:] == 0).all()


@pytest.mark.parametrize("r", [1, 2, 3])
def test_teacher_forcing_on_its_own_output_reproduces_inference(r):
    torch.manual_seed(0)
    config = Tacotron2Config(
        n_frames_per_step=r,
        symbols_embedding_dim=32,
        encoder_embedding_dim=32,
        attention_rnn_dim=32,
        decoder_rnn_dim=32,
        prenet_dim=16,
        attention_dim=16,
        postnet_embedding_dim=16,
        max_decoder_steps=25,
        early_stopping=False,
        prenet_dropout=False,
    )
    model = Tacotron2(config).eval()
    ids = torch.randint(1, 148, (2, 12))
    lengths = torch.tensor([12, 7])
    ids[1, 7:] = 0
    out = model.infer_full(ids, lengths)
    assert out.mel.shape[2] == 25 * r and out.alignments.shape[1] == 25
    forced = teacher_forced(model, ids, lengths, out.mel, 0.0, 0.0)
    for name in ("mel", "mel_postnet", "gate", "alignments"):
        assert torch.allclose(getattr(forced, name), getattr(out, name), atol=1e-5), name


def test_mel_losses_leave_out_the_frames_that_pad_the_last_step(corpus):
    examples = load_examples(corpus / "train.txt", EnglishFrontend(), MelSpectrogram())
    batch = collate(examples[:3], 3)
    torch.manual_seed(0)
    model = Tacotron2(Tacotron2Config(n_frames_per_step=3, max_decoder_steps=5)).eval()
    out = teacher_forced(model, batch.ids, batch.text_lengths, batch.mels, 0.0, 0.0)
    assert out.gate.shape == out.alignments.shape[:2] == batch.gate_targets.shape
    losses = tacotron2_losses(out, batch, 0.2, 1.0)
    frames = torch.arange(batch.mels.shape[2])
    padding = (frames >= batch.mel_lengths[:, None]).unsqueeze(1)
    assert padding.any()
    out.mel, out.mel_postnet = out.mel + 100 * padding, out.mel_postnet - 100 * padding
    assert tacotron2_losses(out, batch, 0.2, 1.0) == losses


# -- the loop ---------------------------------------------------------------------------------
@pytest.mark.parametrize("r", [1, 2])
def test_training_reduces_the_loss_and_resumes_exactly(corpus, tmp_path, r):
    def run(name, max_steps):
        overrides = [f"model.n_frames_per_step={r}", f"max_steps={max_steps}"]
        return Trainer(tiny_config(corpus, tmp_path / name, *overrides))

    straight = run("straight", 12)
    history = straight.fit()
    totals = [h["total"] for h in history if "total" in h]
    assert totals[-1] < 0.8 * totals[0]
    assert (tmp_path / "straight" / "plots" / "step_0000006.png").is_file()
    assert any("val_total" in h for h in history)

    run("split", 6).fit()
    resumed = run("split", 12)
    assert resumed.step == 6
    resumed.fit()
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert resumed.history == history
    loaded = load_tacotron2(tmp_path / "split" / LAST)
    assert loaded.config.n_frames_per_step == r


def test_resume_refuses_a_weights_only_file(corpus, tmp_path):
    torch.save({"state_dict": {"x": torch.zeros(1)}}, tmp_path / "weights.pt")
    with pytest.raises(ConfigError, match="holds weights only"):
        Trainer(tiny_config(corpus, tmp_path / "run", f"resume={tmp_path / 'weights.pt'}"))


def test_cli_trains_and_the_checkpoint_is_an_acoustic_checkpoint(corpus, tmp_path):
    run_dir = tmp_path / "cli"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ttsfw.train",
            "model=tiny",
            f"train_filelist={corpus / 'train.txt'}",
            f"run_dir={run_dir}",
            "device=cpu",
            "threads=1",
            "batch_size=4",
            "max_steps=2",
            "log_every=1",
            "progress=false",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # without a progress bar, each log_every's losses are a line in the run's log
    logged = [line.split("] - ", 1)[1] for line in (run_dir / "train.log").read_text().splitlines()]
    assert [line.split(":")[0] for line in logged] == ["step 1", "step 2"]
    assert all(f" {name} " in line for line in logged for name in ("mel", "postnet", "gate", "total"))
    model = load_tacotron2(run_dir / LAST, max_decoder_steps=5)
    mel, _, _ = model.infer(*EnglishFrontend().encode(["Hi."]))
    assert mel.shape[:2] == (1, 80)


def test_cli_without_a_filelist_says_what_to_set(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ttsfw.train", f"run_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "train_filelist is not set: train_filelist=PATH" in result.stderr


def test_fine_tuning_starts_from_the_given_weights(corpus, tmp_path):
    first = Trainer(tiny_config(corpus, tmp_path / "a", "max_steps=1"))
    first.fit()
    tuned = Trainer(tiny_config(corpus, tmp_path / "b", f"init_from={tmp_path / 'a' / LAST}"))
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, tuned.model.state_dict()[key]), key
    with pytest.raises(ConfigError, match="another size than model="):
        Trainer(
            tiny_config(
                corpus,
                tmp_path / "c",
                f"init_from={tmp_path / 'a' / LAST}",
                "model.attention_dim=8",
            )
        )


@pytest.mark.parametrize(("r_from", "r_to"), [(1, 2), (3, 2), (2, 1)])
def test_fine_tuning_at_another_r_starts_where_the_old_model_would_go_on(
    corpus, tmp_path, r_from, r_to
):
    """The carried model's first step emits, r_to times, the old first step's last frame."""
    first = Trainer(
        tiny_config(corpus, tmp_path / "a", "max_steps=1", f"model.n_frames_per_step={r_from}")
    )
    first.fit()
    tuned = Trainer(
        tiny_config(
            corpus,
            tmp_path / "b",
            f"init_from={tmp_path / 'a' / LAST}",
            f"model.n_frames_per_step={r_to}",
        )
    )
    assert tuned.model.config.n_frames_per_step == r_to
    batch = collate(tuned.train_set[:2], r_from * r_to)
    outputs = []
    for model in (first.model, tuned.model):
        model.eval()
        model.decoder.prenet.dropout = False
        with torch.no_grad():
            outputs.append(teacher_forced(model, batch.ids, batch.text_lengths, batch.mels, 0, 0))
    old, new = outputs
    last_old_frame = old.mel[:, :, r_from - 1 : r_from]
    torch.testing.assert_close(new.mel[:, :, :r_to], last_old_frame.expand(-1, -1, r_to))
    torch.testing.assert_close(new.gate[:, 0], old.gate[:, 0])
    torch.testing.assert_close(new.alignments[:, 0], old.alignments[:, 0])
