"""The `cpu_usage` trigger's source: this process, its cgroup (container) or the machine,
read from /proc and /sys/fs/cgroup (this machine's, and cgroup v1 and v2 trees written here)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from buttress.config import ConfigError, load_text
from buttress.degradation.cpu import (
    cgroup_limit,
    cgroup_usage_seconds,
    cpu_meter,
    process_cpu_seconds,
    resolve_source,
)
from buttress.errors import UsageError

BURN = "sum(i * i for i in range(3_000_000))"


def _tree(root: Path, cgroup: str, files: dict[str, str]) -> Path:
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/cgroup").write_text(cgroup)
    for name, text in files.items():
        path = root / "sys/fs/cgroup" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_process_cpu_leaves_out_other_processes_and_cgroup_cpu_counts_them() -> None:
    """A child burning CPU is in this machine's cgroup usage, not in this process's."""
    assert cgroup_usage_seconds() is not None  # this machine has cgroup CPU accounting
    own, group = process_cpu_seconds(), cgroup_usage_seconds()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", BURN], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    own_used = process_cpu_seconds() - own
    group_used = (cgroup_usage_seconds() or 0.0) - (group or 0.0)
    assert child > 0
    assert own_used < child  # this process only waited
    assert group_used >= child * 0.9  # the cgroup holds the child (tick rounding aside)


def test_this_machines_cgroup_limit_decides_auto() -> None:
    """`auto` is cgroup where this machine's cgroup sets a CPU limit, else process."""
    limit = cgroup_limit()
    assert limit is None or limit > 0
    assert resolve_source("auto") == ("process" if limit is None else "cgroup")
    assert resolve_source("machine") == "machine"


def test_cgroup_v2_limit_and_usage(tmp_path: Path) -> None:
    """v2: `cpu.max` gives the limit (`max`: none), `cpu.stat` `usage_usec` the usage."""
    root = _tree(
        tmp_path,
        "0::/app.slice/web.service\n",
        {
            "app.slice/web.service/cpu.max": "150000 100000\n",
            "app.slice/web.service/cpu.stat": "usage_usec 2500000\nuser_usec 2000000\n",
        },
    )
    assert cgroup_limit(root) == 1.5
    assert cgroup_usage_seconds(root) == 2.5
    assert resolve_source("auto", root) == "cgroup"
    (root / "sys/fs/cgroup/app.slice/web.service/cpu.max").write_text("max 100000\n")
    assert cgroup_limit(root) is None
    assert resolve_source("auto", root) == "process"


def test_cgroup_v1_limit_and_usage_in_a_container(tmp_path: Path) -> None:
    """v1 (the group mounted as the hierarchy's root, as in a container): cfs quota/period
    give the limit, cpuacct.usage (ns) the usage."""
    root = _tree(
        tmp_path,
        "4:cpu,cpuacct:/docker/abc\n2:memory:/docker/abc\n",
        {
            "cpu,cpuacct/cpu.cfs_quota_us": "50000\n",
            "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
            "cpu,cpuacct/cpuacct.usage": "3000000000\n",
        },
    )
    assert cgroup_limit(root) == 0.5
    assert cgroup_usage_seconds(root) == 3.0
    (root / "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_limit(root) is None


def test_the_cgroup_meter_is_a_share_of_the_limit(tmp_path: Path) -> None:
    """0.75 CPU seconds in one second under a 1.5 CPU limit is 50 %."""
    root = _tree(
        tmp_path,
        "0::/\n",
        {"cpu.max": "150000 100000\n", "cpu.stat": "usage_usec 1000000\n"},
    )
    now = [10.0]
    meter = cpu_meter("auto", root=root, clock=lambda: now[0])
    assert meter() is None  # the first reading has nothing to compare with
    (root / "sys/fs/cgroup/cpu.stat").write_text("usage_usec 1750000\n")
    now[0] = 11.0
    assert meter() == pytest.approx(50.0)


def test_cgroup_without_accounting_is_refused_and_the_choice_is_checked(tmp_path: Path) -> None:
    """`cpu: cgroup` where nothing is readable says so; an unknown choice is a config error."""
    root = _tree(tmp_path, "0::/\n", {})
    with pytest.raises(UsageError, match=r"health\.degradation\.cpu: cgroup: no cgroup CPU"):
        cpu_meter("cgroup", root=root)
    config = load_text("health: {degradation: {cpu: process}}\n")
    assert config.health.degradation is not None
    assert config.health.degradation.cpu == "process"
    with pytest.raises(ConfigError, match="cpu"):
        load_text("health: {degradation: {cpu: container}}\n")
