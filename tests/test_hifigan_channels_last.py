"""HiFi-GAN's 1-D convolutions run channels-last (`ttsfw_hifigan.channels_last`): the same
numbers as torch's (B, C, T) convolutions, the same weights and keys, and the layout kept
through a stack."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from test_hifigan import PLUGIN_SRC  # noqa: F401  (puts the plugin's source on sys.path)
from ttsfw_hifigan.channels_last import Conv1d, ConvTranspose1d, from_channels_last, to_channels_last  # noqa: E402


@pytest.mark.parametrize(
    "ours, plain, settings",
    [
        (Conv1d, nn.Conv1d, dict(kernel_size=11, dilation=5, padding=25)),
        (Conv1d, nn.Conv1d, dict(kernel_size=3, stride=2, padding=1, groups=2)),
        (Conv1d, nn.Conv1d, dict(kernel_size=7, padding=0)),
        (ConvTranspose1d, nn.ConvTranspose1d, dict(kernel_size=16, stride=8, padding=4)),
        (ConvTranspose1d, nn.ConvTranspose1d, dict(kernel_size=4, stride=2, padding=1, output_padding=1)),
    ],
)
def test_a_channels_last_conv_is_torchs_own(ours, plain, settings):
    torch.manual_seed(0)
    ours, plain = ours(4, 6, **settings), plain(4, 6, **settings)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(3, 4, 20)
    y = from_channels_last(ours(to_channels_last(x)))
    assert y.shape == plain(x).shape
    assert torch.allclose(y, plain(x), atol=1e-5)
    assert torch.equal(ours(x), plain(x))  # (B, C, T) input: torch's own conv


def test_a_stack_stays_channels_last_from_its_input_to_its_output():
    stack = nn.Sequential(Conv1d(3, 8, 5, padding=2), nn.LeakyReLU(0.1), ConvTranspose1d(8, 4, 4, 2, 1))
    y = stack(to_channels_last(torch.randn(2, 3, 20)))
    assert y.shape == (2, 4, 1, 40)
    assert y.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_convs_load_torch_conv1d_state_dicts():
    plain = nn.Sequential(nn.Conv1d(3, 8, 5), nn.ConvTranspose1d(8, 4, 4, 2))
    ours = nn.Sequential(Conv1d(3, 8, 5), ConvTranspose1d(8, 4, 4, 2))
    ours.load_state_dict(plain.state_dict())  # strict: the same keys and shapes
    assert ours.state_dict().keys() == plain.state_dict().keys()
