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

from ... import draws
from ...draws import Generators
from ...stages import MelChunk
from .budget import cut_rows, step_limits
from .postfilter import refine

if TYPE_CHECKING:
    from .model import Tacotron2, Tacotron2Config

#: frames in the first chunk (plus the consumer's lookahead, so that it already gives audio),
#: then each chunk half again as long as the last, growing from FIRST_CHUNK (the lookahead does
#: not grow), up to the largest: small early chunks keep ahead of playback, long later ones
#: make fewer postnet and vocoder calls (docs/streaming.md has the measurements)
FIRST_CHUNK, CHUNK_GROWTH, LARGEST_CHUNK = 8, 1.5, 256


@torch.inference_mode()
def stream_mels(
    model: "Tacotron2", ids: torch.Tensor, lengths: torch.Tensor, generator: Generators, lookahead: int = 0
) -> Iterator[MelChunk]:
    """ids (B, T_in), lengths (B,) -> MelChunks of postnet frames, rows in the caller's order;
    the first has `lookahead` frames more than FIRST_CHUNK."""
    memory, pad_mask, restore = model.encode(ids, lengths, rows_alone=True)
    c, decoder = model.config, model.decoder
    limits = step_limits(pad_mask, c)
    steps = decoder.steps(
        memory.float(), pad_mask, c.max_decoder_steps, c.gate_threshold, c.early_stopping,
        draws.pick(generator, restore.argsort().tolist()), decoder.prenet.dropout, limits,
    )
    yield from postnet_chunks(
        steps, model.postnet, decoder.steps_to_frames, c, restore, limits, lookahead, model.postfilter
    )


@torch.inference_mode()
def postnet_chunks(
    steps: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    postnet: Callable[[torch.Tensor], torch.Tensor],
    steps_to_frames: Callable[[torch.Tensor], torch.Tensor],
    config: "Tacotron2Config",
    restore: torch.Tensor,
    limits: torch.Tensor,
    lookahead: int = 0,
    postfilter: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[MelChunk]:
    """A decoder's steps, as `Decoder.steps` yields them -> MelChunks of postnet frames, rows
    put back in the caller's order by `restore`. `postnet`: mel -> its residual, with
    ``context_frames``; `steps_to_frames`: (T_steps, B, n_mel * r) -> (B, n_mel, T_steps * r);
    `config` gives r, the step limit and early stopping, `limits` (B,) each sorted row's limit
    in steps (budget.py), `lookahead` the consumer's (`AcousticModel.stream_mels`), `postfilter`
    the learned one (frame-local, postfilter.py) or None. (The
    runtime=onnxruntime model streams through it too.)

    With early stopping, a row whose gate fires gets its last frames at once, in a chunk of its
    own, finished with the postnet's end padding where its decoding ended: what a batch of one
    would have made (the batch goes on decoding; its later frames are not the row's)."""
    r, context, gain = config.n_frames_per_step, postnet.context_frames, config.fine_structure_gain
    batch, device = restore.numel(), restore.device
    limits = limits.to(device)
    caller_row = restore.argsort().tolist()  # sorted row j is the caller's row caller_row[j]
    decoded = torch.empty(batch, config.n_mel_channels, config.max_decoder_steps * r, device=device)
    step_lengths = torch.zeros(batch, dtype=torch.int32, device=device)
    ended = torch.zeros(batch, dtype=torch.bool, device=device)  # rows whose last chunk went out
    frames = emitted = 0
    size = FIRST_CHUNK
    target = size + lookahead

    def finished(rows: slice | list[int], ready: int) -> torch.Tensor:
        """Postnet frames [emitted, ready) of `rows`, from the frames decoded so far."""
        start = max(0, emitted - context)
        window = decoded[rows, :, start : min(frames, ready + context)]
        return refine(window + postnet(window), gain, postfilter)[:, :, emitted - start : ready - start]

    while True:
        with torch.autocast(device.type, enabled=False):  # the decoder runs in float32, as in infer
            step = next(steps, None)
        if step is None:
            break
        output, _, not_finished = step
        decoded[:, :, frames : frames + r] = steps_to_frames(output[None, :, :-1])
        frames += r
        step_lengths += not_finished
        ready = frames - context
        if ready - emitted >= target:
            lengths = torch.where(not_finished == 0, step_lengths * r, -1)
            yield MelChunk(finished(slice(None), ready)[restore], emitted, lengths[restore], False)
            emitted, size = ready, min(int(CHUNK_GROWTH * size), LARGEST_CHUNK)
            target = size
        if config.early_stopping:
            for j in ((not_finished == 0) & ~ended).nonzero().flatten().tolist():
                ended[j] = True
                length = step_lengths[j : j + 1] * r
                cut = cut_rows(step_lengths[j : j + 1], limits[j : j + 1], 1)  # [0] at its limit
                yield MelChunk(finished([j], frames), emitted, length, False, cut, row=caller_row[j])
    rows = (~ended).nonzero().flatten().tolist()
    lengths = (step_lengths * r)[restore]
    hit = cut_rows(lengths, limits[restore], r)
    post = decoded.new_zeros(batch, config.n_mel_channels, frames - emitted)
    if rows:
        post[rows] = finished(rows, frames)
    yield MelChunk(post[restore], emitted, lengths, True, hit)
