"""Sweep summaries: summary.csv and summary.md in a Hydra multirun's sweep directory.

:class:`SweepSummary` is a Hydra callback (``hydra.callbacks`` in conf/config.yaml): when a
multirun ends it reads every job's ``.hydra/overrides.yaml`` and ``metrics.json`` from disk
(launcher workers, processes or cluster nodes share no memory with it) and writes one row per
job, the overrides as columns. For synthesis jobs it also checks coverage: jobs that differ
only in ``shard`` together must produce every non-blank input line; totals and missing lines
are reported. Run ``python -m ttsfw.sweep SWEEP_DIR`` to write the summary again, e.g. after a
failed job stopped Hydra before the callback ran.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

#: metrics.json fields shown per job, in this order (a column appears if any job has it)
METRIC_COLUMNS = (
    *("status", "device", "utterances", "audio_seconds", "compute_seconds", "rtf"),
    *("samples_per_second", "latency_mean", "latency_std", "latency_p50", "latency_p90"),
    *("latency_p95", "latency_p99", "latency_max", "acoustic_latency", "vocoder_latency"),
    *("denoiser_latency", "decoder_ms_per_step", "mel_frames", "reference_rtf"),
    *("speed_vs_reference", "mel_max_abs_deviation"),
    *("mel_mean_abs_deviation", "peak_memory_bytes", "error"),
)
#: the override that splits one input over several jobs
SHARD_KEY = "shard"
#: the runner's skip reason for lines with nothing to say (not missing)
BLANK_LINE = "blank line"


@dataclass
class Job:
    """One job directory of the sweep: its overrides and its metrics.json (None if absent)."""

    name: str
    overrides: dict[str, str]
    metrics: dict[str, Any] | None

    @property
    def row(self) -> dict[str, Any]:
        metrics = self.metrics or {"status": "no metrics.json"}
        measured = {k: metrics[k] for k in METRIC_COLUMNS if k in metrics}
        return {"job": self.name, **measured, **self.overrides}  # a swept key shows what was asked


@dataclass
class Coverage:
    """Synthesis jobs that share everything but the shard: which input lines they produced."""

    label: str
    jobs: int = 0
    lines: int = 0
    produced: set[int] = field(default_factory=set)
    blank: set[int] = field(default_factory=set)  # blank input lines: nothing to produce
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0

    @property
    def missing(self) -> list[int]:
        return sorted(set(range(1, self.lines + 1)) - self.produced - self.blank)


#: jobs of the sweeps summarised in this process that did not complete ("job: reason");
#: the CLI exits 1 if any (whichever launcher ran them)
failed_jobs: list[str] = []


class SweepSummary(Callback):
    """Hydra callback: write summary.csv and summary.md when a multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        print(f"sweep summary: {write_summary(sweep_dir)}")
        failed_jobs.extend(failures(find_jobs(sweep_dir)))


def find_jobs(sweep_dir: Path) -> list[Job]:
    """Every job directory under `sweep_dir`: those holding .hydra/overrides.yaml or metrics.json."""
    dirs = {p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")}
    dirs |= {p.parent for p in sweep_dir.rglob("metrics.json")}
    jobs = [_read_job(sweep_dir, d) for d in dirs]
    return sorted(
        jobs, key=lambda job: [int(p) if p.isdigit() else p for p in Path(job.name).parts]
    )


def _read_job(sweep_dir: Path, job_dir: Path) -> Job:
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
    metrics_file = job_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else None
    pairs = (o.split("=", 1) for o in overrides or [] if "=" in o)
    return Job(
        job_dir.relative_to(sweep_dir).as_posix(), {k.lstrip("+~"): v for k, v in pairs}, metrics
    )


def failures(jobs: list[Job]) -> list[str]:
    """``"job N (overrides): reason"`` for every job that did not complete."""
    return [
        f"job {job.name} ({' '.join(f'{k}={v}' for k, v in job.overrides.items()) or 'no overrides'}): "
        f"{(job.metrics or {}).get('error') or (job.metrics or {}).get('status', 'no metrics.json')}"
        for job in jobs
        if (job.metrics or {}).get("status") != "complete"
    ]


def varying_keys(jobs: list[Job]) -> list[str]:
    """The override keys whose value differs between jobs (or that some jobs lack)."""
    keys = dict.fromkeys(k for job in jobs for k in job.overrides)
    return [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]


def coverage(jobs: list[Job]) -> list[Coverage]:
    """Group synthesis jobs by their varying overrides except ``shard``; collect lines, totals."""
    keys = [k for k in varying_keys(jobs) if k != SHARD_KEY]
    groups: dict[str, Coverage] = {}
    for job in jobs:
        metrics = job.metrics
        if metrics is None or "lines" not in metrics:
            continue  # no metrics (its row says so) or a benchmark (no input lines)
        label = " ".join(f"{k}={job.overrides.get(k, '')}" for k in keys) or "all jobs"
        group = groups.setdefault(label, Coverage(label))
        group.jobs += 1
        group.lines = max(group.lines, int(metrics["lines"]))
        group.produced.update(metrics.get("completed", []), metrics.get("resumed", []))
        reasons = metrics.get("skip_reasons", {})
        group.blank.update(int(line) for line, reason in reasons.items() if reason == BLANK_LINE)
        group.audio_seconds += metrics.get("audio_seconds") or 0.0
        group.compute_seconds += metrics.get("compute_seconds") or 0.0
    return list(groups.values())


def write_summary(sweep_dir: Path) -> str:
    """Write summary.csv and summary.md into `sweep_dir`; return a one-line account."""
    jobs = find_jobs(sweep_dir)
    groups = coverage(jobs)
    _write_csv(sweep_dir / "summary.csv", jobs)
    failed = failures(jobs)
    markdown = _markdown(sweep_dir, jobs) + _failures_markdown(failed) + _coverage_markdown(groups, failed)
    (sweep_dir / "summary.md").write_text("\n".join(markdown) + "\n", encoding="utf-8")
    missing = sum(len(g.missing) for g in groups)
    account = f"{sweep_dir / 'summary.md'}: {len(jobs)} jobs, {missing} missing input lines"
    return account + (f", {len(failed)} failed job(s):\n  " + "\n  ".join(failed) if failed else "")


def _failures_markdown(failed: list[str]) -> list[str]:
    return ["", "## Failed jobs", "", *(f"- {line}" for line in failed)] if failed else []


def _metric_keys(rows: list[dict[str, Any]], overrides: list[str]) -> list[str]:
    """The metric columns present, less those named like an override (shown once, as swept)."""
    return [k for k in METRIC_COLUMNS if k not in overrides and any(k in row for row in rows)]


def _write_csv(path: Path, jobs: list[Job]) -> None:
    """One row per job: every override and every number, full precision."""
    rows = [job.row for job in jobs]
    override_keys = list(dict.fromkeys(k for job in jobs for k in job.overrides))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["job", *override_keys, *_metric_keys(rows, override_keys)])
        writer.writeheader()
        writer.writerows(rows)


def _markdown(sweep_dir: Path, jobs: list[Job]) -> list[str]:
    """The overrides common to all jobs in one line, then a table of those that vary."""
    rows = [job.row for job in jobs]
    varying = varying_keys(jobs)
    common = [f"{k}={v}" for k, v in jobs[0].overrides.items() if k not in varying] if jobs else []
    overrides = list(dict.fromkeys(k for job in jobs for k in job.overrides))
    columns = ["job", *varying, *_metric_keys(rows, overrides)]
    return [
        f"# Sweep summary: {sweep_dir}",
        "",
        f"{len(jobs)} jobs. Common overrides: {' '.join(common) or '-'}",
        "",
        *_table(columns, [[row.get(k) for k in columns] for row in rows]),
    ]


def _coverage_markdown(groups: list[Coverage], failed: list[str]) -> list[str]:
    """Lines, produced, blank and missing per group of synthesis jobs; the missing lines
    (jobs that failed before reading their input are not counted: see Failed jobs)."""
    if not groups:
        return []
    header = ["jobs of", "jobs", "lines", "produced", "blank", "missing"]
    header += ["audio_seconds", "compute_seconds"]
    rows = [
        [g.label, g.jobs, g.lines, len(g.produced), len(g.blank), len(g.missing)]
        + [g.audio_seconds, g.compute_seconds]
        for g in groups
    ]
    missing = [f"Missing lines ({g.label}): {_ranges(g.missing)}" for g in groups if g.missing]
    if not missing:
        missing = [
            "Not every job completed (see Failed jobs): their lines are not all produced."
            if failed
            else "Every non-blank input line was produced."
        ]
    return ["", "## Synthesis coverage", "", *_table(header, rows), "", *missing]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows),
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return format_number(value)


def format_number(value: float) -> str:
    """Readable: 1,234,567 for big numbers and whole numbers, 4 significant digits otherwise."""
    return f"{value:,.0f}" if abs(value) >= 1000 or value == int(value) else f"{value:.4g}"


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> "1-3, 7, 9-10"."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def main(argv: list[str] | None = None) -> int:
    """``python -m ttsfw.sweep SWEEP_DIR``: write the summary of a finished sweep again."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(
            "usage: python -m ttsfw.sweep SWEEP_DIR  (a Hydra multirun directory)", file=sys.stderr
        )
        return 2
    print(write_summary(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
