"""Where a Tacotron2 decoder step's time goes: torch.profiler over full-size decoder steps
(random NVIDIA-shaped weights, a 166-symbol memory, as `mode=bench` times them).

    python scripts/decoder_profile.py --format int8 --threads 2

Profiles `--reps` runs of `--steps` steps and prints the fastest run (the least disturbed by
other processes): per-step time of each ATen op, its share and its calls per step.
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import profile

from ttsfw.components.tacotron2.model import Tacotron2, Tacotron2Config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="int8", choices=["fp32", "bf16", "int8"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--rows", type=int, default=12)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Tacotron2(Tacotron2Config()).eval()
    model.decoder.weight_format = args.format
    memory = torch.randn(1, 166, 512) * 0.3
    pad_mask = torch.zeros(1, 166, dtype=torch.bool)

    def decode() -> None:
        for _ in model.decoder.steps(memory, pad_mask, args.steps, 0.5, False, None, True):
            pass

    with torch.inference_mode():
        decode()  # packs the weights
        runs = []
        for _ in range(args.reps):
            with profile() as prof:
                decode()
            runs.append(prof.key_averages())
    per_step = lambda events: sum(e.self_cpu_time_total for e in events) / args.steps  # noqa: E731
    best = min(runs, key=per_step)
    total = per_step(best)
    calls = sum(e.count for e in best) / args.steps
    print(f"{args.format}, {args.threads} threads: {total:.0f} us/step, {calls:.0f} op calls/step "
          f"(fastest of {args.reps} runs of {args.steps} steps)")
    for event in sorted(best, key=lambda e: -e.self_cpu_time_total)[: args.rows]:
        us = event.self_cpu_time_total / args.steps
        print(f"  {event.key:34s} {us:8.1f} us {100 * us / total:5.1f}%  {event.count / args.steps:g}/step")


if __name__ == "__main__":
    main()
