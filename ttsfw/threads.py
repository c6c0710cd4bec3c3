"""CPU threads per stage that survive a busy machine.

torch's default, one intra-op thread per core whose OpenMP workers spin-wait between the
hundreds of tiny ops of each decoder step, is fastest on an idle machine and collapses 4-10x
as soon as another process holds a core (the spinning threads wait for a descheduled peer).
One thread never collapses but leaves an idle core unused. The ``adaptive`` policy (the
default) gives each stage, each time it runs, as many threads as there are cores free of other
work at that moment: this process's cores (affinity and cgroup quota, divided between
``workers`` processes) less the runnable tasks of other processes (``/proc/stat``), at least one.
``device.threads=N`` fixes N threads instead. docs/performance.md has the measurements.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig, open_dict

#: OpenMP spin before a waiting worker sleeps (libgomp's default 300,000 spins turns a core
#: that another process needs into busy-waiting); set by the CLI before torch loads
SPIN_COUNT = "10000"


def available_cpus() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cpus, math.ceil(quota))) if quota else cpus


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The cgroup's CPU limit in cores (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), None if none."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def busy_elsewhere(samples: int = 5) -> int | None:
    """Runnable tasks of other processes right now (the fewest seen in `samples` looks, so a
    passing blip does not count), or None where ``/proc`` cannot tell."""
    try:
        return min(_running_tasks() - _own_running_threads() for _ in range(samples))
    except (OSError, ValueError):
        return None


def _running_tasks() -> int:
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            if line.startswith("procs_running"):
                return int(line.split()[1])
    raise ValueError("no procs_running in /proc/stat")


def _own_running_threads() -> int:
    running = 0
    for task in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{task}/stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        running += stat[stat.rindex(")") + 2] == "R"
    return running


class ThreadPolicy:
    """Chooses torch's intra-op thread count for each stage run and records the choices.

        policy = ThreadPolicy(fixed=None, workers=1)
        with policy.stage("acoustic"):
            model.infer(...)
    """

    def __init__(self, fixed: int | None = None, workers: int = 1):
        self.fixed = fixed
        self.workers = max(1, int(workers))
        self.cpus = max(1, available_cpus() // self.workers)
        self.host_cpus = os.cpu_count() or self.cpus
        #: stage -> Counter of thread counts it ran with
        self.used: dict[str, Counter] = {}

    @property
    def name(self) -> str:
        return "fixed" if self.fixed else "adaptive"

    def threads(self) -> int:
        """Threads for a stage starting now."""
        if self.fixed:
            return self.fixed
        others = busy_elsewhere()
        if others is None:
            return self.cpus
        # other tasks spread over the host's cores: those that fall on ours
        on_ours = math.ceil(others * self.cpus * self.workers / self.host_cpus)
        return max(1, min(self.cpus, self.cpus * self.workers - on_ours))

    @contextmanager
    def stage(self, name: str) -> Iterator[int]:
        """Run the block with this policy's thread count; torch's setting is restored after."""
        import torch

        threads = self.threads()
        self.used.setdefault(name, Counter())[threads] += 1
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield threads
        finally:
            torch.set_num_threads(previous)

    def report(self) -> dict[str, Any]:
        """For metrics.json and the benchmark: the policy and each stage's thread counts."""
        return {
            "policy": self.name,
            "cpus": self.cpus,
            "workers": self.workers,
            "omp_wait": {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ},
            "stages": {stage: {str(n): runs for n, runs in sorted(counts.items())}
                       for stage, counts in self.used.items()},
        }


def share_cores_between_parallel_jobs(cfg: DictConfig, launcher: DictConfig) -> None:
    """A sweep job run beside others by a parallel launcher (joblib's ``n_jobs``) takes its
    share of the cores: ``device.workers`` becomes the number of jobs running at once, unless
    the user set it."""
    n_jobs = launcher.get("n_jobs") if "joblib" in str(launcher.get("_target_", "")) else None
    if not n_jobs or cfg.device.get("workers") != 1:  # not parallel, set by the user, or no cpu
        return
    cpus = available_cpus()
    parallel = n_jobs if n_jobs > 0 else max(1, cpus + 1 + n_jobs)  # joblib: -1 = all cores
    with open_dict(cfg):
        cfg.device.workers = min(parallel, cpus)
