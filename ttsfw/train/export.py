"""``python -m ttsfw.train.export CHECKPOINT OUT.pt``: keep only the weights, in fp16.

The result (`{'state_dict', 'config'}`) is what ships: half the size of fp32 weights and a
third of a training checkpoint; `load_tacotron2` loads it back into fp32.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..weights.load import load_checkpoint, unwrap


def export_weights(checkpoint: str | Path, out: str | Path) -> Path:
    """Write the fp16 weights and Tacotron2 config of `checkpoint` to `out` (atomically)."""
    state_dict, config = unwrap(load_checkpoint(checkpoint), checkpoint)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state_dict.items()}
    out = Path(out)
    partial = out.with_name(out.name + ".part")
    torch.save({"state_dict": half, "config": config or {}}, partial)
    return partial.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(f"wrote {export_weights(args.checkpoint, args.out)}")


if __name__ == "__main__":
    main()
