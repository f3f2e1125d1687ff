"""The GPU benchmark's budget mode, planned on the CPU: ``gpu_benchmark.sh --dry-run --budget``
prints one estimate per step, in the documented order, and fits the 12-minute budget on an
H100/H200-class machine (16 cores): the SoCo row with its ResNet-50 and BYOL peers and the kernel
profile always, the levers in their order while they fit; the rows and steps the budget cannot
hold are dropped and named, never overrun."""
import os.path as osp
import re
import subprocess

import pytest

from mmsoco.testing import REPO

SCRIPT = osp.join(REPO, 'tools', 'benchmarks', 'gpu_benchmark.sh')
ORDER = ['env', 'build', 'bench', 'profile', 'levers', 'amp']


def _plan(tmp_path, *args):
    proc = subprocess.run(['bash', SCRIPT, '--dry-run', '--out', str(tmp_path), *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    steps, skipped, dropped = {}, [], {}
    for line in proc.stdout.splitlines():
        if m := re.match(r'\s+(\w+)\s+(\d+) s\s+\(cumulative\s+(\d+) s\)', line):
            steps[m[1]] = (int(m[2]), int(m[3]))
            if d := re.search(r'\(rows dropped: (.*)\)$', line):
                dropped[m[1]] = d[1].split(', ')
        elif m := re.match(r'\s+(\w+)\s+skipped', line):
            skipped.append(m[1])
    total = int(re.search(r'total\s+(\d+) s', proc.stdout)[1])
    assert open(osp.join(tmp_path, 'plan.txt')).read() == proc.stdout
    return steps, skipped, dropped, total


def test_budget_plan_fits_twelve_minutes_on_16_cores(tmp_path):
    steps, skipped, dropped, total = _plan(tmp_path, '--budget', '--cores', '16')
    # the comparison with its peers, the profile and some levers run; what is left out is named
    assert list(steps)[:5] == ORDER[:5] and [s for s in ORDER if s in steps or s in skipped] \
        == ORDER
    assert total == sum(t for t, _ in steps.values()) <= 12 * 60
    cumulative = [c for _, c in steps.values()]
    assert cumulative == sorted(cumulative) and cumulative[-1] == total
    levers_kept = 10 - len(dropped.get('levers', []))
    assert levers_kept >= 3                       # the base row and the first two levers
    assert dropped['levers'][-1] == 'all-on'       # dropped from the end of the sweep
    assert set(dropped['bench']) <= {'128 fp16 single', '128 tf32 single', '128 bf16 original'}
    # the build estimate scales with the cores that compile it
    steps8, _, _, _ = _plan(tmp_path, '--budget', '--cores', '8')
    assert steps8['build'][0] > steps['build'][0]


@pytest.mark.parametrize('budget', [300, 450, 600])
def test_smaller_budget_skips_steps_instead_of_overrunning(tmp_path, budget):
    steps, skipped, dropped, total = _plan(tmp_path, '--budget', str(budget), '--cores', '16')
    assert total <= budget and skipped
    assert [s for s in ORDER if s in steps or s in skipped] == ORDER
    if 'bench' in steps:                            # the bench step keeps its peers first
        assert 'profile' in steps or 'levers' not in steps


def test_without_budget_every_step_and_row_is_planned(tmp_path):
    steps, skipped, dropped, total = _plan(tmp_path, '--cores', '16')
    assert list(steps) == ORDER and not skipped and not dropped and total > 12 * 60


def test_unknown_argument_is_one_line(tmp_path):
    proc = subprocess.run(['bash', SCRIPT, '--dry-run', '--frobnicate'], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "gpu_benchmark: unknown argument '--frobnicate' (see --help)"]


def test_lever_rows_follow_the_benchmark_sweep_order():
    """gpu_benchmark.sh drops lever rows from the end of its LEVER_ROWS: that must be the order
    in which benchmark_gpu_throughput.py runs them."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'bench', osp.join(REPO, 'tools', 'benchmarks', 'benchmark_gpu_throughput.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text = open(SCRIPT).read()
    rows = re.search(r'LEVER_ROWS=\(([^)]*)\)', text)[1].split()
    assert rows == ['base', *bench.LEVERS, 'all-on']
