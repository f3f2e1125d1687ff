"""Resuming: a killed run keeps its finished shards, a half-written shard is redone, and an image
that kills its worker process is isolated and reported instead of stopping the run."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from data_prep.demo_collection import build_demo_collection
from data_prep.filters import BoxFilter
from data_prep.image_work import process_image
from data_prep.pipeline import SHARD_FORMAT, generate_proposals, output_paths
from data_prep.selective_search import SelectiveSearch
from data_prep.storage import ProposalStore

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _run(src, out, **kw):
    kw.setdefault('workers', 0)
    kw.setdefault('progress', False)
    kw.setdefault('log', lambda m: None)
    return generate_proposals(str(src), str(out), **kw)


def _assert_same(a: ProposalStore, b: ProposalStore):
    assert list(a.keys()) == list(b.keys())
    for k in a.keys():
        np.testing.assert_array_equal(a[k], b[k])
        assert a.image_size(k) == b.image_size(k)


def test_half_written_shard_is_never_taken_as_done(tmp_path):
    root = tmp_path / 'imgs'
    build_demo_collection(str(root), 6)
    out = tmp_path / 'p.npz'
    _run(root, out, shard_size=2, keep_parts=True)
    reference = ProposalStore.load(str(out))
    os.replace(out, tmp_path / 'reference.npz')
    reference = ProposalStore.load(str(tmp_path / 'reference.npz'))
    parts_dir, _ = output_paths(str(out))

    # as if the writer died: shard 1 cut in half under its final name (a non-atomic writer's
    # failure mode), and a temporary file of shard 2 left behind
    shard1 = osp.join(parts_dir, SHARD_FORMAT.format(1))
    data = open(shard1, 'rb').read()
    with open(shard1, 'wb') as f:
        f.write(data[:len(data) // 2])
    with open(osp.join(parts_dir, SHARD_FORMAT.format(2) + '.x1y2.tmp'), 'wb') as f:
        f.write(b'PK\x03\x04 half of something')

    messages = []
    report = _run(root, out, shard_size=2, log=messages.append)
    assert any('resuming: 2 of 3 shards already done, 2 images to go' in m for m in messages)
    assert report['timing']['images_computed_this_run'] == 2
    _assert_same(ProposalStore.load(str(out)), reference)
    assert not osp.exists(parts_dir)


def _process_group(pgid: int) -> list:
    """Live (not zombie) processes of a process group, from /proc."""
    pids = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] != 'Z':
            pids.append(int(name))
    return pids


def _wait_for(condition, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline and not condition():
        time.sleep(0.02)
    return condition()


def _cli_run(tmp_path, images: int, workers: int):
    """A demo collection and the command computing it at full size (~0.2 s an image: slow
    enough to act on the run in the middle), in shards of 2 images."""
    root = tmp_path / 'imgs'
    paths = build_demo_collection(str(root), images)
    out = tmp_path / 'p.npz'
    cmd = [sys.executable, '-m', 'data_prep.generate_proposals', str(root), '--out', str(out),
           '--workers', str(workers), '--shard-size', '2', '--scale', '0', '--no-progress']
    return root, paths, out, output_paths(str(out))[0], cmd


@pytest.mark.skipif(not osp.isdir('/proc'), reason='finds the workers through /proc')
def test_killed_run_leaves_no_process_and_resumes_computing_only_what_is_missing(tmp_path):
    root, paths, out, parts_dir, cmd = _cli_run(tmp_path, 16, workers=3)
    # a session of its own: the main process, the forkserver and the workers share one process
    # group, whose id is the main process's pid
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    group = proc.pid
    try:
        assert _wait_for(lambda: proc.poll() is not None or (
            osp.isdir(parts_dir) and any(n.startswith('shard-') and n.endswith('.npz')
                                         for n in os.listdir(parts_dir))), 120)
        assert proc.poll() is None, proc.communicate()[1].decode()
        helpers = [p for p in _process_group(group) if p != proc.pid]
        assert len(helpers) >= 4  # the forkserver, 3 workers (and the resource tracker)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: no cleanup runs
        proc.wait()
        # every worker and the forkserver end by themselves, busy or not
        assert _wait_for(lambda: not _process_group(group), 10), _process_group(group)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pid in _process_group(group):  # never leave processes behind, even on failure
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    saved = sorted(n for n in os.listdir(parts_dir) if n.endswith('.npz'))
    assert 1 <= len(saved) < 8

    # the unfinished run belongs to these settings: other settings are refused, not mixed in
    with pytest.raises(FileExistsError, match='unfinished'):
        _run(root, out, shard_size=2, search=SelectiveSearch(scale=200))

    messages = []
    report = _run(root, out, shard_size=2, search=SelectiveSearch(scale=0),
                  log=messages.append)
    assert any(m.startswith('resuming:') for m in messages)
    computed = report['timing']['images_computed_this_run']
    assert computed <= 16 - 2 * len(saved)
    store = ProposalStore.load(str(out))
    assert list(store.keys()) == paths and report['counts']['failed'] == 0
    # the resumed file holds exactly what one uninterrupted run computes
    search, box_filter = SelectiveSearch(scale=0), BoxFilter()
    for p in paths:
        r = process_image(str(root), p, search, box_filter)
        np.testing.assert_array_equal(store[p], r.boxes.astype(np.float32))
        assert store.image_size(p) == r.size


def test_a_second_run_on_the_same_output_is_refused_while_the_first_holds_it(tmp_path):
    root, paths, out, parts_dir, cmd = _cli_run(tmp_path, 6, workers=0)
    first = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lock = osp.join(parts_dir, 'lock')
    try:
        # frozen while it holds the lock, so the second run surely meets it
        assert _wait_for(lambda: first.poll() is not None or (
            osp.exists(lock) and str(first.pid) in open(lock).read()), 60)
        first.send_signal(signal.SIGSTOP)
        assert first.poll() is None, first.communicate()[1].decode()
        second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        assert second.returncode == 2
        assert f'another run (pid {first.pid} on' in second.stderr
        with pytest.raises(RuntimeError, match='another run'):
            _run(root, out, shard_size=2, search=SelectiveSearch(scale=0))
    finally:
        first.send_signal(signal.SIGCONT)
        stdout, stderr = first.communicate()
    assert first.returncode == 0, stderr.decode()
    assert list(ProposalStore.load(str(out)).keys()) == paths
    assert not osp.exists(parts_dir)


class _CrashOnMarker(SelectiveSearch):
    """Selective search that ends its process on one marker image, as a segfault in a native
    library would.  Workers start from a fresh server process (not a fork of the test), so the
    crash must travel with the search object they receive."""

    def __call__(self, img):
        if img.size and (img == MARKER).all():
            os._exit(3)
        return super().__call__(img)


MARKER = np.array([7, 77, 177], np.uint8)


def test_an_image_that_kills_its_worker_is_reported_not_fatal(tmp_path):
    root = tmp_path / 'imgs'
    paths = build_demo_collection(str(root), 8)
    marker = 'train/n999/marker.png'
    os.makedirs(root / 'train' / 'n999')
    assert cv2.imwrite(str(root / marker), np.tile(MARKER, (64, 96, 1)))
    report = _run(root, tmp_path / 'p.npz', workers=2, shard_size=3, search=_CrashOnMarker())
    assert [f['path'] for f in report['failed']] == [marker]
    assert 'worker process died' in report['failed'][0]['reason']
    store = ProposalStore.load(str(tmp_path / 'p.npz'))
    assert list(store.keys()) == paths
    assert all(len(store[p]) > 0 for p in store.keys())
