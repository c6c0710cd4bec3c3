"""HiFi-GAN's own stream (`ttsfw_hifigan.stream`): pushes of any size plus `finish` give
`infer`'s audio with every sample made once, each push gives all the audio its input already
fixes, and rows can be picked out of a stream mid-way."""

from __future__ import annotations

import pytest
import torch

from test_hifigan import PLUGIN_SRC  # noqa: F401  (puts the plugin's source on sys.path)
from ttsfw_hifigan import stream as hifigan_stream  # noqa: E402
from ttsfw_hifigan.channels_last import Conv1d  # noqa: E402
from ttsfw_hifigan.generator import Generator  # noqa: E402

LAYERS = {  # jik876's V1/V2 (resblock 1) and V3 (resblock 2) layer plans, at 1/32 of V1's width
    "v1": dict(resblock="1", upsample_rates=[8, 8, 2, 2], upsample_kernel_sizes=[16, 16, 4, 4],
               resblock_kernel_sizes=[3, 7, 11], resblock_dilation_sizes=[[1, 3, 5]] * 3),
    "v3": dict(resblock="2", upsample_rates=[8, 8, 4], upsample_kernel_sizes=[16, 16, 8],
               resblock_kernel_sizes=[3, 5, 7], resblock_dilation_sizes=[[1, 2], [2, 6], [3, 12]]),
}
SIZES = [0, 1, 2, 5, 9, 1, 0, 13, 3]  # frames per push: empty, single and uneven pushes
TOLERANCE = 1e-5  # fp32 rounding: the same convolutions over other widths


def generator(variant: str) -> Generator:
    torch.manual_seed(0)
    return Generator(**LAYERS[variant], upsample_initial_channel=16).eval()


def pushed(stream, mel: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """The stream's audio per push of `sizes` frames of `mel`."""
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return [stream.push(mel[:, :, a : a + n]) for a, n in zip(starts, sizes)]


@pytest.mark.parametrize("variant", ["v1", "v3"])
@pytest.mark.parametrize("channels_last", [True, False])
@torch.inference_mode()
def test_pushes_of_any_size_and_the_finish_give_infers_audio(variant, channels_last, monkeypatch):
    monkeypatch.setattr(hifigan_stream, "wants_channels_last", lambda mel: channels_last)
    model = generator(variant)
    mel = torch.randn(2, 80, sum(SIZES))
    stream = model.stream()
    pieces = pushed(stream, mel, SIZES) + [stream.finish()]
    audio = torch.cat(pieces, 1)
    assert audio.shape == (2, sum(SIZES) * model.hop_length)
    assert (audio - model.infer(mel)).abs().max() <= TOLERANCE


@pytest.mark.parametrize("variant", ["v1", "v3"])
@torch.inference_mode()
def test_each_push_gives_all_the_audio_its_frames_fix(variant):
    """After n frames the audio given covers all but the vocoder's right context (its
    `context_frames`, rounded up to whole frames), and never a sample more than is final."""
    model = generator(variant)
    hop, right = model.hop_length, model.context_frames[1]
    stream, given = model.stream(), 0
    for pushed_frames in range(1, 40):
        given += stream.push(torch.randn(1, 80, 1)).shape[1]
        assert max(0, pushed_frames - right) * hop <= given <= pushed_frames * hop
    assert given > 0


@torch.inference_mode()
def test_rows_picked_mid_stream_go_on_as_alone_and_the_stream_is_left_as_it_was():
    model = generator("v1")
    mel = torch.randn(3, 80, 30)
    whole = model.infer(mel)
    stream = model.stream()
    first = stream.push(mel[:, :, :12])
    picked = stream.select([2, 0])
    rest = torch.cat([picked.push(mel[[2, 0], :, 12:]), picked.finish()], 1)
    assert (torch.cat([first[[2, 0]], rest], 1) - whole[[2, 0]]).abs().max() <= TOLERANCE
    after = torch.cat([first, stream.push(mel[:, :, 12:]), stream.finish()], 1)
    assert (after - whole).abs().max() <= TOLERANCE


def test_finish_before_any_push_is_refused():
    with pytest.raises(ValueError, match=r"finish\(\) before any push"):
        generator("v1").stream().finish()


def test_a_conv_that_does_not_keep_its_length_cannot_stream():
    with pytest.raises(ValueError, match="stride 1 and 'same'-padded"):
        hifigan_stream.Conv(Conv1d(4, 4, 7, padding=0))
