"""Files the proposal stage writes get the permissions the umask gives (not tempfile's private
0600), so other users and jobs of a shared cluster can read them; a rewritten file keeps its own."""
import os
import stat
import warnings

import numpy as np
import pytest

from data_prep.annotations import DetectionSet, ImageRecord, write_coco
from data_prep.atomic_write import atomic_write
from data_prep.soco_json import export_soco_json
from data_prep.storage import ProposalStore, upgrade


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize('mask', [0o022, 0o027, 0o002], ids=oct)
def test_new_files_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    expected = 0o666 & ~mask
    npz = str(tmp_path / 'p.npz')
    ProposalStore.write(npz, [('a.jpg', [[0, 0, 5, 5]], (10, 10))])
    assert _mode(npz) == expected
    soco = str(tmp_path / 'p.json')
    export_soco_json(npz, soco)
    assert _mode(soco) == expected
    coco = str(tmp_path / 'c.json')
    write_coco(DetectionSet(str(tmp_path), ['x'], [ImageRecord('a.jpg', 10, 10, [], [])]), coco)
    assert _mode(coco) == expected
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]


def test_a_rewritten_file_keeps_its_permissions(tmp_path, umask):
    path = str(tmp_path / 'p.npz')
    ProposalStore.write(path, [('a.jpg', np.array([[0, 0, 5, 5]]), (10, 10))])
    # a version-1 style file (not mappable) that --upgrade rewrites, shared read-only
    with np.load(path) as z:
        members = {k: z[k] for k in z.files}
    np.savez_compressed(path, **members)
    os.chmod(path, 0o644)
    umask(0o077)                      # a private umask must not make a shared file private
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        assert upgrade(path)
    assert ProposalStore.load(path).mapped and _mode(path) == 0o644


def test_a_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / 'out.json'
    path.write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_write(str(path)) as f:
            f.write('half')
            raise RuntimeError
    assert path.read_text() == 'old' and os.listdir(tmp_path) == ['out.json']
