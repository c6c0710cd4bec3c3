"""The measurement kit of synthetic speech: word error rate (pocketsphinx's offline US English
model), DistillMOS and DNSMOS, the pitch tracker's voiced frames, durations against the teacher's.

    python scripts/wer.py score DIR/test.txt [--mos]         # wavs of a filelist `path.wav|text`
    python scripts/wer.py synth OUT [OVERRIDES...]           # speak test sentences with ttsfw, then score
    python scripts/wer.py --split val synth OUT [OVERRIDES...] # the val split: for choosing checkpoints
    python scripts/wer.py gate TEACHER_DIR OUT [OVERRIDES...] # ttsfw's WER <= teacher's + 0.15, or exit 1
    python scripts/wer.py compare T1/test.txt T2/test.txt NAME=OUT/test.txt... [--out DIR]
    python scripts/wer.py durations TEACHER/test.txt OUT/test.txt  # per-sentence duration ratios
    python scripts/wer.py frames DIR/train.txt               # frames per input symbol of a corpus

The sentences are `--count` (default 50) lines of the LJ Speech test split
(recipes/teacher/test.txt, never used in training) from line `--first` (default 1); `--split
val` speaks the val split instead (recipes/teacher/val.txt: choose checkpoints there, and
score the test split once). The
teacher's wavs come from `recipes/teacher/make_corpus.py --split test --order file
--start FIRST --count N --seed S --out TEACHER_DIR`; `compare` takes two teacher samplings
(two noise seeds) and reports their spread: how far the teacher differs from itself.
References are normalised with ttsfw's english_cleaners (numbers and abbreviations spelled
out) and stripped of punctuation; audio is read as mono, resampled to 16 kHz and
peak-normalised to 0.9 for every scorer. WER = word-level edit distance summed over
sentences / reference words. A duration ratio is a sentence's seconds over the teacher's
(files matched by name). Needs `pip install 'ttsfw[teacher]'` (pocketsphinx, scipy); the MOS
scorers `pip install 'ttsfw[eval]'` (see `DistillMOS` in scripts/listeners.py for its torchaudio import).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import soundfile as sf

from listeners import DNSMOS, DistillMOS, Recogniser, VoicedFraction, load_16k  # scripts/, beside this file

REPO = Path(__file__).resolve().parents[1]
SPLITS = {name: REPO / "recipes" / "teacher" / f"{name}.txt" for name in ("test", "val")}
MARGIN = 0.15
#: a sentence whose duration is off the teacher's by more than this factor either way
DURATION_TOLERANCE = 1.5
#: what `compare` reports of every system (score's keys with mos=True)
MEASURES = ("wer", "distillmos", "dnsmos_ovrl", "voiced")


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


def read_filelist(filelist: Path) -> list[tuple[str, str]]:
    """`path.wav|text` lines -> (wav path relative to the filelist, text)."""
    lines = filelist.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("|", 1)) for line in lines if line]


def score(filelist: Path, count: int | None = None, mos: bool = False) -> dict:
    """WER of the wavs in `filelist` against its texts (with `mos`, their mean DistillMOS,
    DNSMOS OVRL and voiced fraction too); per-sentence details included."""
    lines = read_filelist(filelist)[:count]
    recognise, errors, total, rows = Recogniser(), 0, 0, []
    scorers = {"distillmos": DistillMOS(), "dnsmos_ovrl": DNSMOS(), "voiced": VoicedFraction()} if mos else {}
    for wav, text in lines:
        ref, hyp = words(text), recognise(filelist.parent / wav).lower().split()
        distance = edit_distance(ref, hyp)
        errors, total = errors + distance, total + len(ref)
        row = {"wav": wav, "ref": " ".join(ref), "hyp": " ".join(hyp), "errors": distance}
        if scorers:
            audio = load_16k(filelist.parent / wav)
            row.update({name: scorer(audio) for name, scorer in scorers.items()})
        rows.append(row)
    report = {"wer": errors / total, "words": total, "sentences": len(rows)}
    report.update({name: statistics.fmean(row[name] for row in rows) for name in scorers})
    return {**report, "rows": rows}


def durations(filelist: Path) -> dict[str, float]:
    """Seconds of every wav of `filelist`, by file name without its suffix (the sentence id)."""
    return {Path(wav).stem: sf.info(filelist.parent / wav).duration for wav, _ in read_filelist(filelist)}


def duration_ratios(ours: dict[str, float], teacher: dict[str, float]) -> dict[str, float]:
    """Per sentence id, our seconds / the teacher's (the ids both have)."""
    return {utt: seconds / teacher[utt] for utt, seconds in ours.items() if utt in teacher}


def ratio_summary(ratios: dict[str, float], tolerance: float = DURATION_TOLERANCE) -> dict:
    """Median, min and max of the ratios, and the ids off by more than `tolerance` either way."""
    if not ratios:
        raise ValueError("no sentence in common: are the filelists of the same sentences?")
    values = list(ratios.values())
    outside = [utt for utt, r in ratios.items() if not 1 / tolerance <= r <= tolerance]
    return {
        "sentences": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "tolerance": tolerance,
        "outside": outside,
    }


def spread(first: float, second: float) -> dict:
    """Two samplings of one measure -> their mean and their spread (absolute difference)."""
    return {"runs": [first, second], "mean": (first + second) / 2, "spread": abs(first - second)}


def frames_per_symbol(filelist: Path, hop_length: int = 256, sample_rate: int = 22050) -> dict:
    """Mel frames (of `hop_length` samples at `sample_rate`) per input symbol of ttsfw's
    english frontend over a corpus: the spread that a frame budget must cover."""
    from ttsfw.components.english.frontend import EnglishFrontend

    frontend, ratios = EnglishFrontend(), []
    for wav, text in read_filelist(filelist):
        info = sf.info(filelist.parent / wav)
        frames = info.duration * sample_rate / hop_length
        ratios.append(frames / len(frontend.text_to_sequence(text)))
    quantiles = statistics.quantiles(ratios, n=100, method="inclusive")
    return {
        "clips": len(ratios),
        "mean": statistics.fmean(ratios),
        "p1": quantiles[0],
        "p50": quantiles[49],
        "p99": quantiles[98],
        "max": max(ratios),
    }


def compare(teachers: list[Path], systems: dict[str, Path], count: int | None) -> dict:
    """Every measure of two teacher samplings and of each system, on the same sentences; the
    systems' durations as ratios to the first teacher sampling's, the teacher's own spread."""
    t1, t2 = (score(path, count, mos=True) for path in teachers)
    reference = durations(teachers[0])
    rows = {
        "teacher": {
            name: spread(t1[name], t2[name]) for name in MEASURES
        }
    }
    rows["teacher"]["duration_ratio"] = ratio_summary(duration_ratios(durations(teachers[1]), reference))
    for name, filelist in systems.items():
        report = score(filelist, count, mos=True)
        rows[name] = {key: report[key] for key in MEASURES}
        rows[name]["duration_ratio"] = ratio_summary(duration_ratios(durations(filelist), reference))
    return {"sentences": t1["sentences"], "words": t1["words"], "rows": rows}


def markdown_table(report: dict) -> str:
    """`compare`'s report as the markdown table of docs/voice.md."""
    def value(row: dict, key: str) -> str:
        cell = row[key]
        return f"{cell['mean']:.3f} ± {cell['spread'] / 2:.3f}" if isinstance(cell, dict) else f"{cell:.3f}"

    lines = [
        "| system | WER | DistillMOS | DNSMOS OVRL | voiced frames | duration / teacher's: median (min-max) | off by > 1.5x |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in report["rows"].items():
        ratio = row["duration_ratio"]
        lines.append(
            f"| {name} | {value(row, 'wer')} | {value(row, 'distillmos')} | {value(row, 'dnsmos_ovrl')} | {value(row, 'voiced')} | "
            f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f}) | {len(ratio['outside'])} |"
        )
    return "\n".join(lines)


def synthesize(out: Path, overrides: list[str], count: int, first: int = 1, split: str = "test") -> Path:
    """Speak `count` sentences of `split` from line `first` (1-based) as users do, through
    `python -m ttsfw input=FILE` (the voice's sentence splitting included); write OUT/wavs,
    OUT/<split>.txt and OUT/synth.json (the split's lines cut at a step limit, or skipped),
    then stop with an error if there are any."""
    lines = SPLITS[split].read_text(encoding="utf-8").splitlines()[first - 1 : first - 1 + count]
    items = [line.split("|", 1) for line in lines]
    out.mkdir(parents=True, exist_ok=True)
    (out / "sentences.txt").write_text("".join(text + "\n" for _, text in items), encoding="utf-8")
    run = out / "run"
    command = [sys.executable, "-m", "ttsfw", f"input={out / 'sentences.txt'}", f"hydra.run.dir={run}"]
    subprocess.run([*command, "progress=false", *overrides], check=True)
    metrics = json.loads((run / "metrics.json").read_text())
    split_line = first - 1  # + the input line (1-based) = the split's line
    cut = [split_line + n for n in metrics["hit_max_decoder_steps"]]
    skipped = [split_line + n for n in metrics["skipped_lines"]]
    (out / "wavs").mkdir(exist_ok=True)
    lines = []
    for (utt, text), name in zip(items, metrics["files"]):  # files are in line order
        (run / name).replace(out / "wavs" / f"{utt}.wav")
        lines.append(f"wavs/{utt}.wav|{text}")
    (out / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = {"split": split, "first": first, "count": len(items), "cut_lines": cut, "skipped_lines": skipped}
    (out / "synth.json").write_text(json.dumps(report) + "\n")
    problems = [f"{split} line {n} was cut at a step limit (max_decoder_steps or the frame budget)" for n in cut]
    problems += [f"{split} line {n} skipped" for n in skipped]
    if problems:
        raise SystemExit(f"error: truncated or missing audio: {', '.join(problems)}")
    return out / f"{split}.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="test sentences (default 50)")
    parser.add_argument("--first", type=int, default=1, help="first test line (1-based, default 1)")
    parser.add_argument("--split", choices=sorted(SPLITS), default="test", help="synth: which split (default test)")
    commands = parser.add_subparsers(dest="command", required=True)
    score_command = commands.add_parser("score")
    score_command.add_argument("filelist", type=Path)
    score_command.add_argument("--mos", action="store_true", help="DistillMOS, DNSMOS and voiced fraction too")
    compare_command = commands.add_parser("compare")
    compare_command.add_argument("teacher", type=Path, help="the teacher's filelist, one sampling")
    compare_command.add_argument("teacher2", type=Path, help="the same sentences, another noise seed")
    compare_command.add_argument("systems", nargs="*", help="NAME=FILELIST of each system")
    compare_command.add_argument("--out", type=Path)
    durations_command = commands.add_parser("durations")
    durations_command.add_argument("teacher", type=Path)
    durations_command.add_argument("filelist", type=Path)
    commands.add_parser("frames").add_argument("filelist", type=Path)
    synth = commands.add_parser("synth")
    synth.add_argument("out", type=Path)
    synth.add_argument("overrides", nargs="*")
    gate = commands.add_parser("gate")
    gate.add_argument("teacher", type=Path, help="folder with the teacher's test.txt and wavs")
    gate.add_argument("out", type=Path)
    gate.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    if args.command == "score":
        report = score(args.filelist, args.count, args.mos)
    elif args.command == "synth":
        report = score(synthesize(args.out, args.overrides, args.count, args.first, args.split))
    elif args.command == "compare":
        systems = dict(item.split("=", 1) for item in args.systems)
        report = compare([args.teacher, args.teacher2], {k: Path(v) for k, v in systems.items()}, args.count)
        print(markdown_table(report))
    elif args.command == "durations":
        report = ratio_summary(duration_ratios(durations(args.filelist), durations(args.teacher)))
    elif args.command == "frames":
        report = frames_per_symbol(args.filelist)
    else:
        teacher = score(args.teacher / "test.txt", args.count)
        ours = score(synthesize(args.out, args.overrides, args.count, args.first))
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
        out.mkdir(parents=True, exist_ok=True)
        (out / "wer.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("rows", "teacher", "ttsfw")}))
    if report.get("passed") is False:
        sys.exit(1)


if __name__ == "__main__":
    main()
