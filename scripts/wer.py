"""Word error rate of synthetic speech, measured with pocketsphinx's offline US English model.

    python scripts/wer.py score DIR/test.txt                 # wavs of a filelist `path.wav|text`
    python scripts/wer.py synth OUT [OVERRIDES...]           # speak test sentences with ttsfw, then score
    python scripts/wer.py gate TEACHER_DIR OUT [OVERRIDES...] # ttsfw's WER <= teacher's + 0.15, or exit 1

The sentences are the first `--count` (default 50) lines of the LJ Speech test split
(recipes/teacher/test.txt), never used in training. The teacher's wavs come from
`recipes/teacher/make_corpus.py --split test --order file --count 50 --out TEACHER_DIR`.
References are normalised with ttsfw's english_cleaners (numbers and abbreviations spelled
out) and stripped of punctuation; audio is peak-normalised and resampled to 16 kHz.
WER = word-level edit distance summed over sentences / reference words.
Needs `pip install 'ttsfw[teacher]'` (pocketsphinx, scipy).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
TEST_SPLIT = REPO / "recipes" / "teacher" / "test.txt"
MARGIN = 0.15


def words(text: str) -> list[str]:
    from ttsfw.components.english.cleaners import english_cleaners

    return re.sub(r"[^a-z' ]", " ", english_cleaners(text)).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1]


class Recogniser:
    """pocketsphinx with its bundled US English acoustic model, dictionary and language model."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=16000, loglevel="FATAL")

    def __call__(self, path: Path) -> str:
        from scipy.signal import resample_poly

        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        audio = resample_poly(audio, 16000, rate) * (0.9 / max(float(np.abs(audio).max()), 1e-6))
        self.decoder.start_utt()
        self.decoder.process_raw(
            (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes(), full_utt=True
        )
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp else ""


def score(filelist: Path, count: int | None = None) -> dict:
    """WER of the wavs in `filelist` against its texts; per-sentence details included."""
    lines = [
        line.split("|", 1) for line in filelist.read_text(encoding="utf-8").splitlines() if line
    ]
    recognise, errors, total, rows = Recogniser(), 0, 0, []
    for wav, text in lines[:count]:
        ref, hyp = words(text), recognise(filelist.parent / wav).lower().split()
        distance = edit_distance(ref, hyp)
        errors, total = errors + distance, total + len(ref)
        rows.append({"wav": wav, "ref": " ".join(ref), "hyp": " ".join(hyp), "errors": distance})
    return {"wer": errors / total, "words": total, "sentences": len(rows), "rows": rows}


def synthesize(out: Path, overrides: list[str], count: int) -> Path:
    """Speak the first `count` test sentences as users do, through `python -m ttsfw input=FILE`
    (the voice's sentence splitting included); write OUT/wavs + OUT/test.txt."""
    items = [
        line.split("|", 1) for line in TEST_SPLIT.read_text(encoding="utf-8").splitlines()[:count]
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "sentences.txt").write_text("".join(text + "\n" for _, text in items), encoding="utf-8")
    run = out / "run"
    command = [sys.executable, "-m", "ttsfw", f"input={out / 'sentences.txt'}", f"hydra.run.dir={run}"]
    subprocess.run([*command, "progress=false", *overrides], check=True)
    metrics = json.loads((run / "metrics.json").read_text())
    problems = [f"line {n} hit max_decoder_steps" for n in metrics["hit_max_decoder_steps"]]
    problems += [f"line {n} skipped" for n in metrics["skipped_lines"]]
    if problems:
        raise SystemExit(f"error: truncated or missing audio: {', '.join(problems)}")
    (out / "wavs").mkdir(exist_ok=True)
    lines = []
    for (utt, text), name in zip(items, metrics["files"]):  # files are in line order
        (run / name).replace(out / "wavs" / f"{utt}.wav")
        lines.append(f"wavs/{utt}.wav|{text}")
    (out / "test.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / "test.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="test sentences (default 50)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("score").add_argument("filelist", type=Path)
    synth = commands.add_parser("synth")
    synth.add_argument("out", type=Path)
    synth.add_argument("overrides", nargs="*")
    gate = commands.add_parser("gate")
    gate.add_argument("teacher", type=Path, help="folder with the teacher's test.txt and wavs")
    gate.add_argument("out", type=Path)
    gate.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    if args.command == "score":
        report = score(args.filelist, args.count)
    elif args.command == "synth":
        report = score(synthesize(args.out, args.overrides, args.count))
    else:
        teacher = score(args.teacher / "test.txt", args.count)
        ours = score(synthesize(args.out, args.overrides, args.count))
        report = {
            "teacher_wer": teacher["wer"],
            "wer": ours["wer"],
            "margin": MARGIN,
            "passed": ours["wer"] <= teacher["wer"] + MARGIN,
            "sentences": ours["sentences"],
            "teacher": teacher,
            "ttsfw": ours,
        }
    out = getattr(args, "out", None)
    if out:
        (out / "wer.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("rows", "teacher", "ttsfw")}))
    if report.get("passed") is False:
        sys.exit(1)


if __name__ == "__main__":
    main()
