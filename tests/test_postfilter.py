"""acoustic.postfilter: a learned MelPostfilter after the postnet, frame-local, the same in
`mels`, in the stream and on runtime=onnxruntime; and its trainer (python -m ttsfw.train.postfilter)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from ttsfw import Pipeline
from ttsfw.components.tacotron2.model import Tacotron2, Tacotron2Config
from ttsfw.components.tacotron2.postfilter import MelPostfilter, load_postfilter, refine
from ttsfw.components.tacotron2.sharpen import sharpen
from ttsfw.errors import ConfigError
from ttsfw.testing import TINY_TACOTRON2
from ttsfw.train.postfilter import main as train_postfilter

from test_budget import IDS, LENGTHS, TINY  # noqa: E402 (tests/ is on the path)


def random_postfilter(n_mel: int = 80, seed: int = 0) -> MelPostfilter:
    """A postfilter that is not the identity (a fresh one is: its output layer starts at zero)."""
    torch.manual_seed(seed)
    postfilter = MelPostfilter(n_mel).eval()
    with torch.no_grad():
        for p in postfilter.out.parameters():
            p.normal_(0, 0.05)
    return postfilter


def save(postfilter: MelPostfilter, path) -> str:
    torch.save({"state_dict": postfilter.state_dict(), "config": postfilter.config}, path)
    return str(path)


def test_a_fresh_postfilter_is_the_identity_and_a_trained_one_filters_frames_alone():
    mel = torch.randn(2, 80, 9)
    assert torch.equal(MelPostfilter().eval()(mel), mel)
    postfilter = random_postfilter()
    with torch.no_grad():
        whole = postfilter(mel)
        shuffled = torch.randperm(9)
        assert torch.allclose(postfilter(mel[:, :, shuffled]), whole[:, :, shuffled], atol=1e-6)
    assert (whole - mel).abs().max() > 1e-2


def test_refine_sharpens_then_filters():
    mel, postfilter = torch.randn(1, 80, 5), random_postfilter()
    with torch.no_grad():
        assert torch.equal(refine(mel, 2.0, postfilter), postfilter(sharpen(mel, 2.0)))
    assert refine(mel, 1.0, None) is mel


def test_the_model_filters_its_mels_in_mels_and_in_the_stream():
    torch.manual_seed(0)
    whole = dict(TINY, early_stopping=False)
    plain = Tacotron2(Tacotron2Config(**whole)).eval()
    filtered = Tacotron2(Tacotron2Config(**whole)).eval()
    filtered.load_state_dict(plain.state_dict())
    filtered.postfilter = random_postfilter()
    reference = plain.infer_full(IDS, LENGTHS).mel_postnet
    out = filtered.infer_full(IDS, LENGTHS).mel_postnet
    with torch.no_grad():
        assert torch.allclose(out, filtered.postfilter(reference), atol=1e-6)
    assert not torch.allclose(out, reference, atol=1e-2)
    alone = filtered.infer_full(IDS[:1], LENGTHS[:1]).mel_postnet
    chunks = list(filtered.stream_mels(IDS[:1], LENGTHS[:1]))
    assert len(chunks) > 1 and torch.allclose(torch.cat([c.mel for c in chunks], 2), alone, atol=1e-5)


def test_the_option_loads_the_file_into_the_model(tmp_path):
    overrides = [*TINY_TACOTRON2, "vocoder=griffinlim", "~voice"]
    assert Pipeline.from_overrides(overrides).acoustic.postfilter is None
    path = save(random_postfilter(), tmp_path / "pf.pt")
    model = Pipeline.from_overrides([*overrides, f"acoustic.postfilter={path}"]).acoustic
    assert torch.equal(model.postfilter.out.weight, load_postfilter(path).out.weight)


def test_a_postfilter_for_other_mels_or_not_a_postfilter_is_a_clear_error(tmp_path):
    path = save(MelPostfilter(40), tmp_path / "pf40.pt")
    with pytest.raises(ConfigError, match="filters 40 mel channels, but the acoustic model makes 80"):
        load_postfilter(path, n_mel_channels=80)
    torch.save({"state_dict": {"weight": torch.zeros(3)}, "config": {}}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="is not a MelPostfilter file"):
        load_postfilter(tmp_path / "other.pt")


def test_the_shipped_voice_s_postfilter_is_in_the_package_and_changes_its_mels():
    model = Pipeline.from_overrides(["voice=joe", "acoustic.postfilter=ttsfw_joe_postfilter"]).acoustic
    mel = torch.randn(1, 80, 6) - 5.0
    with torch.no_grad():
        assert (model.postfilter(mel) - mel).abs().mean() > 1e-2  # trained: not the identity


def write_corpus(folder, count: int = 3):
    """`count` one-second wavs of a voiced glide (a pitch track and harmonics) and a filelist."""
    (folder / "wavs").mkdir(parents=True)
    lines, t = [], np.arange(22050) / 22050
    for n in range(count):
        f0 = 110 + 30 * n + 20 * t
        phase = 2 * np.pi * np.cumsum(f0) / 22050
        audio = sum(np.sin(k * phase) / k for k in range(1, 12)) * 0.1
        sf.write(folder / "wavs" / f"{n}.wav", audio.astype(np.float32), 22050)
        lines.append(f"wavs/{n}.wav|A sentence number {n}, spoken.")
    (folder / "train.txt").write_text("\n".join(lines) + "\n")
    return folder / "train.txt"


def test_training_saves_weights_the_option_loads_and_resumes_exactly(tmp_path):
    filelist = write_corpus(tmp_path / "corpus")
    common = ["--train", str(filelist), "--batch-size", "2", "--save-every", "2"]
    train_postfilter([*common, "--run-dir", str(tmp_path / "once"), "--steps", "4"])
    train_postfilter([*common, "--run-dir", str(tmp_path / "twice"), "--steps", "2"])
    train_postfilter([*common, "--run-dir", str(tmp_path / "twice"), "--steps", "4"])  # resumes at 2
    assert sorted(p.name for p in (tmp_path / "once").glob("postfilter_0*.pt")) == [
        "postfilter_0000002.pt", "postfilter_0000004.pt",
    ]
    once, twice = (load_postfilter(tmp_path / run / "postfilter_0000004.pt") for run in ("once", "twice"))
    for a, b in zip(once.state_dict().values(), twice.state_dict().values()):
        assert torch.equal(a, b)
    assert once.out.weight.abs().sum() > 0  # it trained: the output layer left zero
    assert filelist.with_suffix(".pairs.pt").is_file()  # the teacher-forced pairs are cached


def test_training_refuses_a_corpus_of_clips_too_short_to_crop(tmp_path):
    folder = tmp_path / "short"
    (folder / "wavs").mkdir(parents=True)
    sf.write(folder / "wavs" / "a.wav", np.zeros(2205, np.float32), 22050)
    (folder / "train.txt").write_text("wavs/a.wav|Short.\n")
    with pytest.raises(SystemExit, match="no training utterance is 64 frames long or more"):
        train_postfilter(["--train", str(folder / "train.txt"), "--run-dir", str(tmp_path / "run")])


def test_the_pairs_cache_is_made_again_for_other_weights(tmp_path):
    from ttsfw.components.tacotron2.load import load_tacotron2
    from ttsfw.train.postfilter import teacher_forced_pairs
    from ttsfw.voices import shipped_path

    filelist = write_corpus(tmp_path / "corpus", count=2)
    model = load_tacotron2(shipped_path("ttsfw_joe"))
    frontend = Pipeline.from_overrides(["voice=joe"]).frontend
    first = teacher_forced_pairs(model, frontend, filelist, "joe")
    assert all(torch.equal(a, b) for a, b in zip(first, teacher_forced_pairs(model, frontend, filelist, "joe")))
    with torch.no_grad():
        model.postnet.convolutions[-1][0].conv.bias.add_(0.5)  # other weights: other model mels
    again = teacher_forced_pairs(model, frontend, filelist, "joe")
    assert not torch.equal(again[0][0], first[0][0]) and torch.equal(again[0][1], first[0][1])
