"""Tacotron2's mels while the decoder runs: the decoder's steps are read as they come, and the
postnet (a stack of convolutions, `Postnet.context_frames` = 10 frames each side for NVIDIA's
five of kernel 5) is run on a window of decoded frames with that much context on both sides,
keeping only the frames whose context is complete. When the decoder stops the sequence end is
known and the last frames are finished with the postnet's own zero padding, as in `infer`.
The values equal `Tacotron2.mels` (fp32 rounding aside), and so do the prenet draws: it is the
same decoder loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

import torch

from ...stages import MelChunk
from .budget import cut_rows, step_limits

if TYPE_CHECKING:
    from .model import Tacotron2, Tacotron2Config

#: frames in the first chunk (time to first audio), then each chunk twice the last, up to the
#: largest (fewer postnet and vocoder calls once audio is flowing)
FIRST_CHUNK, LARGEST_CHUNK = 8, 64


@torch.inference_mode()
def stream_mels(
    model: "Tacotron2", ids: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None
) -> Iterator[MelChunk]:
    """ids (B, T_in), lengths (B,) -> MelChunks of postnet frames, rows in the caller's order."""
    memory, pad_mask, restore = model.encode(ids, lengths)
    c, decoder = model.config, model.decoder
    limits = step_limits(pad_mask, c)
    steps = decoder.steps(
        memory.float(), pad_mask, c.max_decoder_steps, c.gate_threshold, c.early_stopping,
        generator, decoder.prenet.dropout, limits,
    )
    yield from postnet_chunks(steps, model.postnet, decoder.steps_to_frames, c, restore, limits)


@torch.inference_mode()
def postnet_chunks(
    steps: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    postnet: Callable[[torch.Tensor], torch.Tensor],
    steps_to_frames: Callable[[torch.Tensor], torch.Tensor],
    config: "Tacotron2Config",
    restore: torch.Tensor,
    limits: torch.Tensor,
) -> Iterator[MelChunk]:
    """A decoder's steps, as `Decoder.steps` yields them -> MelChunks of postnet frames, rows
    put back in the caller's order by `restore`. `postnet`: mel -> its residual, with
    ``context_frames``; `steps_to_frames`: (T_steps, B, n_mel * r) -> (B, n_mel, T_steps * r);
    `config` gives r and the step limit, `limits` (B,) each sorted row's limit in steps
    (budget.py). (The runtime=onnxruntime model streams through it too.)"""
    r, lookahead = config.n_frames_per_step, postnet.context_frames
    batch, device = restore.numel(), restore.device
    decoded = torch.empty(batch, config.n_mel_channels, config.max_decoder_steps * r, device=device)
    step_lengths = torch.zeros(batch, dtype=torch.int32, device=device)
    frames = emitted = 0
    target = FIRST_CHUNK
    while True:
        with torch.autocast(device.type, enabled=False):  # the decoder runs in float32, as in infer
            step = next(steps, None)
        done = step is None
        if not done:
            output, _, not_finished = step
            decoded[:, :, frames : frames + r] = steps_to_frames(output[None, :, :-1])
            frames += r
            step_lengths += not_finished
        ready = frames if done else frames - lookahead
        if not done and ready - emitted < target:
            continue
        start = max(0, emitted - lookahead)
        window = decoded[:, :, start : min(frames, ready + lookahead)]
        post = (window + postnet(window))[:, :, emitted - start : ready - start]
        stopped = (not_finished == 0) | done
        row_lengths = torch.where(stopped, step_lengths * r, -1)
        hit = cut_rows(row_lengths[restore], limits.to(device)[restore], r)
        yield MelChunk(post[restore], emitted, row_lengths[restore], done, hit if done else [])
        if done:
            return
        emitted, target = ready, min(2 * target, LARGEST_CHUNK)
