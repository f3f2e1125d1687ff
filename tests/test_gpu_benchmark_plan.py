"""The GPU benchmark's budget mode, planned on the CPU: ``gpu_benchmark.sh --dry-run --budget``
prints one estimate per step, in the documented order, and the plan fits the 12-minute budget on
an H100/H200-class machine (16 cores); a smaller budget skips whole steps rather than overrun."""
import os.path as osp
import re
import subprocess

import pytest

from mmsoco.testing import REPO

SCRIPT = osp.join(REPO, 'tools', 'benchmarks', 'gpu_benchmark.sh')
ORDER = ['env', 'build', 'amp', 'bench', 'levers']


def _plan(tmp_path, *args):
    proc = subprocess.run(['bash', SCRIPT, '--dry-run', '--out', str(tmp_path), *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    steps, skipped = {}, []
    for line in proc.stdout.splitlines():
        if m := re.match(r'\s+(\w+)\s+(\d+) s\s+\(cumulative\s+(\d+) s\)', line):
            steps[m[1]] = (int(m[2]), int(m[3]))
        elif m := re.match(r'\s+(\w+)\s+skipped', line):
            skipped.append(m[1])
    total = int(re.search(r'total\s+(\d+) s', proc.stdout)[1])
    assert open(osp.join(tmp_path, 'plan.txt')).read() == proc.stdout
    return steps, skipped, total


def test_budget_plan_fits_twelve_minutes_on_16_cores(tmp_path):
    steps, skipped, total = _plan(tmp_path, '--budget', '--cores', '16')
    assert list(steps) == ORDER and not skipped          # every step, in the documented order
    assert total == sum(t for t, _ in steps.values()) <= 12 * 60
    cumulative = [c for _, c in steps.values()]
    assert cumulative == sorted(cumulative) and cumulative[-1] == total
    # the build estimate scales with the cores that compile it
    steps8, _, _ = _plan(tmp_path, '--budget', '--cores', '8')
    assert steps8['build'][0] > steps['build'][0]


@pytest.mark.parametrize('budget', [300, 450])
def test_smaller_budget_skips_steps_instead_of_overrunning(tmp_path, budget):
    steps, skipped, total = _plan(tmp_path, '--budget', str(budget), '--cores', '16')
    assert total <= budget and skipped
    assert [s for s in ORDER if s in steps or s in skipped] == ORDER


def test_without_budget_every_step_is_planned_in_full(tmp_path):
    steps, skipped, total = _plan(tmp_path, '--cores', '16')
    assert list(steps) == ORDER and not skipped and total > 12 * 60   # the full lever sweep


def test_unknown_argument_is_one_line(tmp_path):
    proc = subprocess.run(['bash', SCRIPT, '--dry-run', '--frobnicate'], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "gpu_benchmark: unknown argument '--frobnicate' (see --help)"]
