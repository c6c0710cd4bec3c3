"""Carry Tacotron2 weights over to another n_frames_per_step (r), to fine-tune at a new r.

Only two tensors depend on r (NVIDIA/tacotron2's layout, frames flattened as the decoder emits
them): the prenet's first layer, which reads the previous step's r frames (in_features n_mel·r),
and the linear projection, which writes a step's r frames (out_features n_mel·r). The carried
model starts as the old one would go on: its prenet reads only the last frame of the previous
step, as the old prenet read the old step's last frame, and each new frame is first predicted
like the old step's last frame. Everything else is copied.
"""

from __future__ import annotations

import torch

PRENET = "decoder.prenet.layers.0.linear_layer.weight"
PROJECTION = (
    "decoder.linear_projection.linear_layer.weight",
    "decoder.linear_projection.linear_layer.bias",
)


def convert_frames_per_step(
    state_dict: dict[str, torch.Tensor], r_from: int, r_to: int, n_mel: int
) -> dict[str, torch.Tensor]:
    """A state dict for r_to frames per step from one for r_from; other tensors are shared.

    Prenet weight (prenet_dim, n_mel·r_from) -> (prenet_dim, n_mel·r_to): the last frame's
    columns move to the last frame's place, the rest are zero. Projection weight
    (n_mel·r_from, D) and bias (n_mel·r_from,) -> (n_mel·r_to, ...): the last frame's rows,
    repeated r_to times.
    """
    if r_from == r_to:
        return state_dict
    converted = dict(state_dict)
    prenet = state_dict[PRENET]
    last_columns = prenet[:, (r_from - 1) * n_mel :]
    converted[PRENET] = torch.cat(
        (prenet.new_zeros(prenet.shape[0], (r_to - 1) * n_mel), last_columns), 1
    )
    for key in PROJECTION:
        last_rows = state_dict[key][(r_from - 1) * n_mel :]
        converted[key] = last_rows.repeat(r_to, *[1] * (last_rows.dim() - 1))
    return converted
