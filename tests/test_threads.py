"""The CPU thread policy: the cores it may use (affinity, cgroup quota, workers), its choice per
stage from the other processes' load, the device.threads override, and what it records."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch
from omegaconf import OmegaConf

from ttsfw import threads
from ttsfw.devices import CPUBackend
from ttsfw.errors import ConfigError
from ttsfw.threads import ThreadPolicy, available_cpus, cgroup_cpu_quota, share_cores_between_parallel_jobs


@pytest.mark.parametrize(
    "files, quota",
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_cgroup_quota_v2_and_v1(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(tmp_path) == quota


@pytest.mark.parametrize("affinity, quota, expected", [(8, None, 8), (8, 1.5, 2), (2, 6.0, 2), (4, 0.5, 1)])
def test_available_cpus_is_the_affinity_capped_by_the_quota(monkeypatch, affinity, quota, expected):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(affinity)))
    monkeypatch.setattr(threads, "cgroup_cpu_quota", lambda: quota)
    assert available_cpus() == expected


def test_the_real_machine_is_read():
    assert 1 <= available_cpus() <= len(threads.os.sched_getaffinity(0))


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 4)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)


@pytest.mark.parametrize("others, expected", [(0, 4), (1, 3), (3, 1), (9, 1), (None, 4)])
def test_adaptive_takes_the_cores_free_of_other_work(four_cores, monkeypatch, others, expected):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: others)
    assert ThreadPolicy().threads() == expected


def test_workers_divide_the_cores(four_cores, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 1)  # the other worker
    policy = ThreadPolicy(workers=2)
    assert policy.cpus == 2 and policy.threads() == 2
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 3)  # the other worker and two more
    assert policy.threads() == 1


def test_device_threads_overrides_whatever_the_load(four_cores, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 9)
    assert ThreadPolicy(fixed=3).threads() == 3


def test_a_stage_runs_with_the_chosen_threads_restores_torch_and_is_recorded(four_cores, monkeypatch):
    loads = iter([0, 3, 3])
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: next(loads))
    before = torch.get_num_threads()
    cpu = CPUBackend()
    with cpu.stage("acoustic") as chosen:
        assert chosen == 4 and torch.get_num_threads() == 4
    assert torch.get_num_threads() == before
    with cpu.stage("acoustic"), torch.inference_mode():
        assert torch.get_num_threads() == 1
    with cpu.stage("vocoder"):
        pass
    report = cpu.thread_report()
    assert report["policy"] == "adaptive" and report["cpus"] == 4 and report["workers"] == 1
    assert report["stages"] == {"acoustic": {"1": 1, "4": 1}, "vocoder": {"1": 1}}  # JSON keys


def test_bad_workers_is_one_clear_error():
    with pytest.raises(ConfigError, match="device.workers must be a positive integer, got 0"):
        CPUBackend(workers=0)


def test_busy_processes_are_seen():
    loop = "import time\nend = time.time() + 20\nwhile time.time() < end: pass\n"
    busy = subprocess.Popen([sys.executable, "-c", loop])
    try:
        time.sleep(0.3)
        assert threads.busy_elsewhere() >= 1
    finally:
        busy.kill()
        busy.wait()


@pytest.mark.parametrize(
    "launcher, workers, expected",
    [
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 2}, 1, 2),
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": -1}, 1, 4),
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 2}, 3, 3),
        ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, 1, 1),
    ],
)
def test_parallel_sweep_jobs_share_the_cores(four_cores, launcher, workers, expected):
    cfg = OmegaConf.create({"device": {"name": "cpu", "workers": workers}})
    OmegaConf.set_struct(cfg, True)
    share_cores_between_parallel_jobs(cfg, OmegaConf.create(launcher))
    assert cfg.device.workers == expected
