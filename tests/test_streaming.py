"""Streaming: audio while the decoder runs equals the audio of one call; each stage's context is
its receptive field, worked out from its layers and checked here against the layers themselves."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from ttsfw import Pipeline
from ttsfw.components.tacotron2.layers import Decoder, Postnet
from ttsfw.components.tacotron2.stream import FIRST_CHUNK
from ttsfw.components.waveglow.load import load_waveglow
from ttsfw.components.waveglow.model import WaveGlow, WaveGlowConfig
from ttsfw.segment import split_sentences
from ttsfw.streaming import StreamingVocoder
from ttsfw.stages import MelChunk
from ttsfw.timing import StageTimer

PLUGIN_SRC = Path(__file__).resolve().parents[1] / "plugins" / "ttsfw-hifigan" / "src"
if str(PLUGIN_SRC) not in sys.path:
    sys.path.insert(0, str(PLUGIN_SRC))
from ttsfw_hifigan.generator import Generator  # noqa: E402
from test_hifigan import hifigan  # noqa: E402,F401 (fixture)
from test_hifigan_stream import LAYERS  # noqa: E402
from test_tacotron2 import tiny_model  # noqa: E402

AUDIO_TOLERANCE = 1e-4  # ../shared/golden/README.md: audio
SENTENCE = "The forms of printed letters should be beautiful, and that their arrangement on the page should be reasonable."


def golden_voice(golden, *overrides: str) -> Pipeline:
    """The golden Tacotron2 (real weights: rows stop on their own) with the golden HiFi-GAN
    generator (small, and its audio follows the mel, unlike a random one's)."""
    return Pipeline.from_overrides([
        f"acoustic.checkpoint={golden / 'tacotron2' / 'ckpt_dle.pt'}", "acoustic.max_decoder_steps=200",
        "vocoder=hifigan_v1", f"vocoder.checkpoint={golden / 'hifigan' / 'resblock1' / 'generator'}",
        "device.threads=1", "~voice", *overrides,
    ])


def influence(stage, channels: int, frames: int, hop: int) -> tuple[int, int]:
    """How many frames before and after an input frame its change reaches, measured: the
    output span that moves when frame `frames // 2` of a random input moves."""
    torch.manual_seed(0)
    x = torch.randn(1, channels, frames)
    moved = x.clone()
    moved[:, :, frames // 2] += 1.0
    with torch.no_grad():
        change = (stage(moved) - stage(x)).abs()
        changed = change.reshape(-1, change.shape[-1]).amax(0) > 0  # per output sample
    samples = changed.nonzero().flatten()
    first, last = int(samples[0]) // hop, int(samples[-1]) // hop
    return frames // 2 - first, last - frames // 2


def test_the_postnet_context_is_its_receptive_field():
    postnet = Postnet(80, 16, 5, 5).eval()
    assert postnet.context_frames == 10
    assert influence(postnet, 80, 41, 1) == (10, 10)  # exactly: a frame moves 10 to each side


@pytest.mark.parametrize("variant", ["v1", "v3"])
def test_the_hifigan_context_covers_its_receptive_field(variant):
    generator = Generator(**LAYERS[variant], upsample_initial_channel=16).eval()
    left, right = generator.context_frames
    # an output frame depends on `reach_back` frames before it and `reach_ahead` after it
    reach_ahead, reach_back = influence(generator, 80, 64, 256)
    assert reach_back <= left <= reach_back + 2 and reach_ahead <= right <= reach_ahead + 2


def test_the_waveglow_context_covers_its_receptive_field():
    model = WaveGlow(WaveGlowConfig(n_flows=4, n_group=8, n_early_every=2, n_layers=3, n_channels=8), sigma=0.0)
    for wn in model.WN:  # the reference starts each WN's last conv at zero: the mel would not matter
        torch.nn.init.normal_(wn.end.weight, std=0.1)
    left, right = model.context_frames
    reach_ahead, reach_back = influence(lambda mel: model.infer(mel, sigma=0.0), 80, 48, 256)
    assert reach_back <= left <= reach_back + 1 and reach_ahead <= right <= reach_ahead + 1


def test_a_stream_equals_the_whole_synthesis(golden, hifigan):
    tts = golden_voice(golden, "seed=7", "max_chars=200")  # prenet dropout on: drawn as synthesis does
    whole = tts.synthesize([SENTENCE]).audio[0]
    chunks = list(tts.stream(SENTENCE))
    assert len(chunks) >= 2 and [c.final for c in chunks] == [False] * (len(chunks) - 1) + [True]
    np.testing.assert_allclose(np.concatenate([c.audio for c in chunks]), whole, atol=AUDIO_TOLERANCE, rtol=0)
    assert len(chunks[0].audio) < len(whole) / 2  # audio starts long before the end


@pytest.mark.parametrize("vocoder", ["hifigan", "waveglow"])
def test_batch_rows_that_stop_at_different_steps_stream_what_each_would_alone(golden, hifigan, vocoder):
    """Prenet dropout on and WaveGlow's noise: a generator per row makes each row's draws its
    own; its encoding and its end are its own too (not the batch's padding or later frames)."""
    overrides = [f"vocoder.checkpoint={golden / 'waveglow' / 'ckpt_dle.pt'}", "vocoder=waveglow"] if vocoder == "waveglow" else []
    tts = golden_voice(golden, *overrides)
    texts = ["A long sentence that takes a good many decoder steps to say.", "Short.", "Middling, this one."]
    encoded = tts.encode_each(texts)

    def stream(rows: list[int]) -> tuple[dict[int, np.ndarray], list[int]]:
        ids = torch.nn.utils.rnn.pad_sequence([encoded[i] for i in rows], batch_first=True)
        lengths = torch.tensor([len(encoded[i]) for i in rows])
        generators = [torch.Generator().manual_seed(100 + i) for i in rows]
        audio: dict[int, list[np.ndarray]] = {i: [] for i in rows}
        ends: list[int] = []
        for event in tts.stream_batch(ids, lengths, generators, StageTimer(tts.device)):
            assert rows[event.row] not in ends  # nothing after a row's final chunk
            audio[rows[event.row]].append(event.audio)
            if event.final:
                ends.append(rows[event.row])
        return {i: np.concatenate(pieces) for i, pieces in audio.items()}, ends

    together, ends = stream([0, 1, 2])
    assert sorted(ends) == [0, 1, 2] and ends[0] != 0  # a short row ends while the long one decodes
    for i in range(3):
        alone, _ = stream([i])
        assert len(together[i]) == len(alone[i])
        np.testing.assert_allclose(together[i], alone[i], atol=AUDIO_TOLERANCE, rtol=0)


def test_waveglow_streams_exactly_with_the_same_noise(golden):
    vocoder = load_waveglow(golden / "waveglow" / "ckpt_dle.pt")
    torch.manual_seed(3)
    mel = torch.randn(2, 80, 150) * 0.5 - 5
    noise = [torch.randn(shape) for shape in vocoder.noise_shapes(2, 150)]
    with torch.no_grad():
        whole = vocoder.infer(mel, noise=noise)
        stream = StreamingVocoder(vocoder, None, 2, None, noise=noise)
        lengths = torch.tensor([150, 90])
        pieces: dict[int, list[np.ndarray]] = {0: [], 1: []}
        for start in range(0, 150, 30):
            done = start + 30 >= 150
            chunk = MelChunk(mel[:, :, start : start + 30], start, torch.where(lengths <= start + 30, lengths, -1), done)
            for event in stream.push(chunk):
                pieces[event.row].append(event.audio)
    for row, length in enumerate(lengths.tolist()):
        np.testing.assert_allclose(np.concatenate(pieces[row]), whole[row, : length * 256].numpy(), atol=AUDIO_TOLERANCE, rtol=0)


def test_long_text_streams_sentence_by_sentence_as_synthesis_speaks_it(golden, hifigan):
    tts = golden_voice(golden, "acoustic.prenet_dropout=false", "max_chars=40", "on_max_steps=warn")
    text = "The first sentence is here. Then a second one, which is a little longer. And a third."
    whole = tts.synthesize([text]).audio[0]
    chunks = list(tts.stream(text))
    assert sorted({c.piece for c in chunks}) == list(range(len(split_sentences(text, 40)))) == [0, 1, 2, 3]
    np.testing.assert_allclose(np.concatenate([c.audio for c in chunks]), whole, atol=AUDIO_TOLERANCE, rtol=0)


@pytest.fixture
def decoded(monkeypatch) -> list[int]:
    """A list that grows by one at each Tacotron2 decoder step."""
    decoded: list[int] = []
    steps = Decoder.steps

    def counted(self, *args, **kwargs):
        for step in steps(self, *args, **kwargs):
            decoded.append(1)
            yield step

    monkeypatch.setattr(Decoder, "steps", counted)
    return decoded


def test_closing_the_stream_stops_the_decoder(golden, hifigan, decoded):
    tts = golden_voice(golden, "max_chars=200")
    whole = len(list(tts.stream(SENTENCE)))
    total = len(decoded)
    decoded.clear()
    stream = tts.stream(SENTENCE)
    next(stream)
    stream.close()
    assert whole > 1 and 0 < len(decoded) < total


def test_the_first_audio_comes_once_its_first_frames_context_is_decoded(golden, hifigan, decoded):
    """The first mel chunk carries the vocoder's right context on top of FIRST_CHUNK frames, so
    the first audio (FIRST_CHUNK frames of it) follows the first decoder step that completes
    the postnet's and the vocoder's lookahead, not a later chunk."""
    tts = golden_voice(golden, "max_chars=200")
    first = next(tts.stream(SENTENCE))
    right = tts.vocoder.context_frames[1]
    assert len(decoded) == FIRST_CHUNK + right + tts.acoustic.postnet.context_frames
    hop = tts.vocoder.hop_length  # HiFi-GAN's own stream gives the part of a frame it can, too
    assert FIRST_CHUNK * hop <= len(first.audio) < (FIRST_CHUNK + 1) * hop


@pytest.mark.parametrize("lookahead", [0, 13])
def test_chunks_grow_by_half_up_to_the_largest_and_the_last_holds_the_rest(lookahead):
    """8 frames first (plus the consumer's lookahead, which does not grow), each next chunk
    half again as long, capped at 256; the decoder's last step closes the stream with the rest."""
    model = tiny_model(max_decoder_steps=1000, early_stopping=False)
    ids = torch.randint(1, 20, (1, 12))
    chunks = list(model.stream_mels(ids, torch.tensor([12]), lookahead=lookahead))
    sizes = [8 + lookahead, 12, 18, 27, 40, 60, 90, 135, 202, 256]
    assert [c.mel.shape[-1] for c in chunks] == sizes + [1000 - sum(sizes)]
    assert [c.start for c in chunks][:3] == [0, 8 + lookahead, 20 + lookahead]
    assert [c.done for c in chunks] == [False] * 10 + [True]


def test_a_vocoder_with_a_stream_of_its_own_streams_through_it_and_recomputes_nothing(
    golden, hifigan, monkeypatch
):
    tts = golden_voice(golden, "max_chars=200")
    whole = tts.synthesize([SENTENCE]).audio[0]

    def no_windows(*args, **kwargs):
        raise AssertionError("a window was vocoded: the stream should keep the vocoder's state")

    monkeypatch.setattr(type(tts.vocoder), "infer", no_windows)
    streamed = np.concatenate([c.audio for c in tts.stream(SENTENCE)])
    np.testing.assert_allclose(streamed, whole, atol=AUDIO_TOLERANCE, rtol=0)


def test_windows_wait_until_their_new_frames_outweigh_the_context_they_recompute(golden):
    """Vocoders without a stream of their own (Griffin-Lim here) vocode a window only once it
    has at least as many new frames as context frames, except the first and the last."""
    tts = Pipeline.from_overrides([
        f"acoustic.checkpoint={golden / 'tacotron2' / 'ckpt_dle.pt'}", "vocoder=griffinlim", "device.threads=1", "~voice",
    ])
    vocoder = StreamingVocoder(tts.vocoder, None, 1, None)
    assert vocoder.own_stream is None
    mel, hop, step = torch.randn(1, 80, 64) - 4, tts.vocoder.hop_length, 4
    pieces = [
        len(audio.audio)
        for start in range(0, 64, step)
        for audio in vocoder.push(MelChunk(
            mel[:, :, start : start + step], start, torch.tensor([64 if start + step == 64 else -1]),
            start + step == 64,
        ))
    ]
    context = vocoder.left + vocoder.right
    assert sum(pieces) == 64 * hop and len(pieces) >= 3
    assert all(piece >= context * hop for piece in pieces[1:-1])


def test_warm_up_speaks_once_and_keeps_nothing(golden, hifigan, decoded):
    tts = golden_voice(golden)
    assert tts.warm_up() is None and len(decoded) > 0
    decoded.clear()
    tts.warm_up("")  # nothing to speak: no error, nothing decoded
    assert decoded == []


def test_griffin_lim_chunks_stay_within_the_stated_bound(golden):
    """Griffin-Lim is iterative over its whole input: a stream's chunks are not its one-call
    audio. What holds: the stream's spectrogram is as close to the target as one call's."""
    tts = Pipeline.from_overrides([
        f"acoustic.checkpoint={golden / 'tacotron2' / 'ckpt_dle.pt'}", "acoustic.max_decoder_steps=200",
        "vocoder=griffinlim", "acoustic.prenet_dropout=false", "device.threads=1", "~voice",
    ])
    text = "The quick brown fox jumps over the lazy dog."
    utterance = tts.synthesize([text]).utterances[0]
    streamed = np.concatenate([c.audio for c in tts.stream(text)])
    assert len(streamed) == len(utterance.audio)
    target = tts.vocoder.magnitudes(utterance.mel[None])[0]

    def spectral_convergence(audio: np.ndarray) -> float:
        spec = torch.stft(torch.from_numpy(audio), 1024, 256, window=torch.hann_window(1024), return_complex=True).abs()
        spec = spec[:, : target.shape[1]]
        return float(torch.linalg.norm(spec - target) / torch.linalg.norm(target))

    assert spectral_convergence(streamed) <= 1.05 * spectral_convergence(utterance.audio)  # measured: 1.002


def test_a_model_without_a_stream_of_its_own_streams_at_the_end(toy):
    from test_faults import TOY

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tts = Pipeline.from_overrides(TOY)
    chunks = list(tts.stream(["first line", "second"]))
    assert [(c.line, c.final) for c in chunks] == [(0, True), (1, True)]
    assert len(chunks[0].audio) == len("first line") * 2 * 256


def test_a_batch_of_pieces_streams_each_its_own_and_a_cancelled_piece_gets_nothing_more(golden, hifigan):
    from ttsfw.engine import Engine
    from ttsfw.results import Piece
    from ttsfw.settings import job_settings

    tts = golden_voice(golden, "acoustic.prenet_dropout=false", "max_chars=200")
    texts = [SENTENCE, "Printing, in the only sense with which we are at present concerned."]
    pieces = [Piece(i, 0, 1, text, ids) for i, (text, ids) in enumerate(zip(texts, tts.encode_each(texts)))]
    engine = Engine(tts, job_settings(tts.cfg), StageTimer(tts.device))
    alone = {i: np.concatenate([c.audio for _, c in engine.stream_batch([p])]) for i, p in enumerate(pieces)}
    cancelled: set[int] = set()
    got: dict[int, list[np.ndarray]] = {0: [], 1: []}
    for i, chunk in engine.stream_batch(pieces, cancelled):
        got[i].append(chunk.audio)
        if i == 0:
            cancelled.add(0)  # its client went away after the first chunk
    assert len(got[0]) == 1 and len(got[0][0]) < len(alone[0])
    np.testing.assert_allclose(np.concatenate(got[1]), alone[1], atol=AUDIO_TOLERANCE, rtol=0)


def test_output_dash_streams_raw_pcm_to_stdout_and_nothing_else(plugin_venv, tmp_path):
    import json
    import os
    import subprocess

    import soundfile as sf

    from conftest import TOY

    def ttsfw(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "TTSFW_PLUGINS": "toy"}
        command = [plugin_venv.python, "-m", "ttsfw", "say", "First sentence. And a second one.", *TOY, *args]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=300)

    assert ttsfw(f"hydra.run.dir={tmp_path / 'files'}").returncode == 0
    streamed = ttsfw("output=-", f"hydra.run.dir={tmp_path / 'pcm'}")
    assert streamed.returncode == 0, streamed.stderr
    pcm = np.frombuffer(streamed.stdout, "<f4")
    wav, rate = sf.read(tmp_path / "files" / "0001.wav", dtype="float32")
    np.testing.assert_allclose(pcm, wav, atol=1 / 32768 + 1e-7)  # the file is 16-bit PCM
    metrics = json.loads((tmp_path / "pcm" / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["audio_seconds"] * rate == len(pcm)
    assert streamed.stderr.decode().strip().splitlines()[-1].startswith(
        f"ttsfw: {len(pcm) / rate:.1f} s of audio streamed to stdout ({rate} Hz float32 mono), first audio after"
    )
    wrong = ttsfw("output=out.raw")
    assert wrong.returncode == 1
    assert wrong.stderr.decode().strip().splitlines()[-1] == (
        "ttsfw: error: output must be null (files in the run dir) or - (raw PCM to stdout), got 'out.raw'"
    )
