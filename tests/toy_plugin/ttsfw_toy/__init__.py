"""Tiny deterministic components registered through ttsfw's hooks (test plugin).

toy frontend: one id per character; toy acoustic: `frames_per_symbol` mel frames per id;
toy vocoder: `hop_length` samples per frame, a tone whose loudness follows the mel.
"""

from __future__ import annotations

import torch
from torch import nn

from ttsfw import AcousticModel, Frontend, Vocoder, hookimpl


class ToyFrontend(Frontend):
    symbols = [chr(c) for c in range(128)]

    def encode(self, texts):
        seqs = [torch.tensor([ord(c) % 128 for c in text], dtype=torch.long) for text in texts]
        lengths = torch.tensor([len(s) for s in seqs])
        return nn.utils.rnn.pad_sequence(seqs, batch_first=True), lengths


class ToyAcoustic(AcousticModel):
    sample_rate = 22050  # the mels it makes are meant for 22,050 Hz audio, 256 samples a frame
    hop_length = 256

    def __init__(self, frames_per_symbol: int, n_mel_channels: int = 80):
        super().__init__()
        self.frames_per_symbol = frames_per_symbol
        self.n_mel_channels = n_mel_channels
        self.scale = nn.Parameter(torch.ones(()))

    def infer(self, ids, lengths, generator=None):
        frames = lengths * self.frames_per_symbol
        t_out = int(frames.max())
        steps = torch.arange(t_out, device=ids.device)
        mel = (steps[None, None, :] % 7).float().expand(len(ids), self.n_mel_channels, t_out) * self.scale
        mel = mel - 10.0 * (steps[None, None, :] >= frames[:, None, None])
        align = torch.zeros(len(ids), t_out, ids.shape[1], device=ids.device)
        align[:, steps, (steps // self.frames_per_symbol).clamp(max=ids.shape[1] - 1)] = 1.0
        return mel, frames, align


class ToyVocoder(Vocoder):
    def __init__(self, hop_length: int = 256, sample_rate: int = 22050):
        super().__init__()
        self.hop_length = hop_length
        self.sample_rate = sample_rate
        self.gain = nn.Parameter(torch.tensor(0.05))

    def infer(self, mel, generator=None):
        loudness = mel.mean(1).clamp(min=0).repeat_interleave(self.hop_length, dim=1)
        t = torch.arange(loudness.shape[1], device=mel.device) / self.sample_rate
        return self.gain * loudness * torch.sin(2 * torch.pi * 220.0 * t)


@hookimpl
def ttsfw_register_frontends(register):
    register("toy", lambda cfg, context: ToyFrontend())


@hookimpl
def ttsfw_register_acoustic_models(register):
    register("toy", lambda cfg, context: ToyAcoustic(cfg.frames_per_symbol), aliases=["toy_acoustic"])


@hookimpl
def ttsfw_register_vocoders(register):
    register("toy", lambda cfg, context: ToyVocoder(cfg.hop_length))


@hookimpl
def ttsfw_config_search_path():
    return ["pkg://ttsfw_toy.conf"]
