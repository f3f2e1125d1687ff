"""The proposals file: round trip, lookups, memory mapping, SoCo JSON import/export."""
import ast
import json
import os
import os.path as osp
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from data_prep.soco_json import export_soco_json, import_soco_json
from data_prep.storage import ProposalStore, write_arrays

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _items():
    return [
        ('n02/b.JPEG', np.array([[0, 0, 10, 20], [5, 5, 300, 200]]), (320, 240)),
        ('n01/a.JPEG', np.array([[1, 2, 3, 4]]), (100, 50)),
        ('n01/empty.jpg', np.zeros((0, 4)), (64, 64)),
        ('ünïcode dir/ça.png', np.array([[7, 8, 9, 10]]), (12, 14)),
    ]


def test_round_trip(tmp_path):
    path = str(tmp_path / 'p.npz')
    n = ProposalStore.write(path, _items(), meta=dict(note='test'))
    assert n == 4
    store = ProposalStore.load(path)
    assert len(store) == 4
    keys = list(store.keys())
    assert keys == sorted(keys, key=lambda k: k.encode())
    assert set(keys) == {i[0] for i in _items()}
    for rel, boxes, size in _items():
        assert rel in store and rel in store.keys()
        got = store[rel]
        assert got.dtype == np.float32 and got.shape == (len(boxes), 4)
        np.testing.assert_array_equal(got, np.asarray(boxes, np.float32).reshape(-1, 4))
        assert store.image_size(rel) == size
    assert store.meta['note'] == 'test' and store.meta['num_images'] == 4
    assert store.num_boxes == 4
    assert store.arrays()['boxes'].dtype == np.uint16  # whole pixels are stored compactly
    assert 'n01/missing.jpg' not in store and 'n01' not in store and 42 not in store
    with pytest.raises(KeyError):
        store['n01/missing.jpg']
    assert store.get('n01/missing.jpg') is None
    # Windows separators and a leading ./ name the same image
    assert 'n01\\a.JPEG' in store and './n01/a.JPEG' in store


def test_plain_numpy_can_read_it(tmp_path):
    path = str(tmp_path / 'p.npz')
    ProposalStore.write(path, _items())
    with np.load(path) as z:
        assert set(z.files) == {'paths', 'offsets', 'boxes', 'sizes', 'levels', 'meta'}
        assert z['paths'][0] == b'n01/a.JPEG'
        assert json.loads(z['meta'].tobytes())['format'] == 'mmsoco-proposals'
    with zipfile.ZipFile(path) as zf:  # stored, not compressed: that is what makes it mappable
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def test_fractional_boxes_are_kept_exactly(tmp_path):
    path = str(tmp_path / 'p.npz')
    boxes = np.array([[0.5, 1.25, 10.75, 20.5]])
    ProposalStore.write(path, [('a.jpg', boxes, (30, 30))])
    store = ProposalStore.load(path)
    assert store.arrays()['boxes'].dtype == np.float32
    np.testing.assert_array_equal(store['a.jpg'], boxes.astype(np.float32))


def test_the_file_is_memory_mapped_and_pickles_by_path(tmp_path):
    path = str(tmp_path / 'p.npz')
    ProposalStore.write(path, _items())
    store = ProposalStore.load(path)
    assert store.mapped
    for name, arr in store.arrays().items():  # views of the mapping, not copies
        assert not arr.flags.owndata and not arr.flags.writeable, name
    blob = pickle.dumps(store)
    assert len(blob) < 1000  # the path, not the arrays
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again['n02/b.JPEG'], store['n02/b.JPEG'])


def test_find_is_vectorized_lookup(tmp_path):
    path = str(tmp_path / 'p.npz')
    ProposalStore.write(path, _items())
    store = ProposalStore.load(path)
    rows = store.find(['n02/b.JPEG', 'nope.jpg', 'n01/a.JPEG', 'n01/a.JPEG.too.long.for.width'])
    assert rows[1] == -1 and rows[3] == -1
    assert store.key_at(rows[0]) == 'n02/b.JPEG' and store.key_at(rows[2]) == 'n01/a.JPEG'


def test_write_rejects_duplicates_and_empty_store_works(tmp_path):
    with pytest.raises(ValueError, match='twice'):
        ProposalStore.write(str(tmp_path / 'd.npz'), [('a.jpg', np.zeros((0, 4)), (1, 1))] * 2)
    path = str(tmp_path / 'e.npz')
    ProposalStore.write(path, [])
    store = ProposalStore.load(path)
    assert len(store) == 0 and list(store.keys()) == [] and 'a.jpg' not in store


def test_incomplete_or_foreign_files_are_refused(tmp_path):
    path = str(tmp_path / 'p.npz')
    ProposalStore.write(path, _items())
    data = open(path, 'rb').read()
    cut = str(tmp_path / 'cut.npz')
    with open(cut, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match='not a complete proposals file'):
        ProposalStore.load(cut)
    other = str(tmp_path / 'other.npz')
    np.savez(other, x=np.zeros(3))
    with pytest.raises(ValueError, match='not a proposals file'):
        ProposalStore.load(other)
    with pytest.raises(FileNotFoundError):
        ProposalStore.load(str(tmp_path / 'missing.npz'))


def _resave(path, out, save=np.savez, reorder=False, **meta_update):
    """The same members re-saved by numpy itself, the meta optionally changed."""
    with np.load(path) as z:
        members = {k: z[k] for k in (reversed(z.files) if reorder else z.files)}
    meta = json.loads(members['meta'].tobytes())
    meta.update(meta_update)
    members['meta'] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    save(out, **members)


@pytest.mark.parametrize('how', ['version 1', 're-saved', 'compressed'])
def test_files_that_cannot_be_mapped_are_read_and_upgraded(tmp_path, how):
    path = str(tmp_path / 'p.npz')
    ProposalStore.write(path, _items(), meta=dict(fingerprint='abc'))
    old = str(tmp_path / 'old.npz')
    if how == 'version 1':  # the layout the first version wrote: no member offsets in meta
        _resave(path, old, version=1, members=None)
    elif how == 're-saved':  # offsets copied along but no longer true: they must not be used
        _resave(path, old, reorder=True)
    else:
        _resave(path, old, save=np.savez_compressed)
    with pytest.warns(UserWarning, match='data_prep.storage --upgrade'):
        store = ProposalStore.load(old)
    assert not store.mapped
    for rel, boxes, size in _items():
        np.testing.assert_array_equal(store[rel], np.asarray(boxes, np.float32).reshape(-1, 4))
        assert store.image_size(rel) == size

    res = subprocess.run([sys.executable, '-m', 'data_prep.storage', '--upgrade', old],
                         capture_output=True, text=True, cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=REPO))
    assert res.returncode == 0 and 'upgraded to version 2' in res.stdout, res.stderr
    upgraded = ProposalStore.load(old)
    assert upgraded.mapped and upgraded.meta['fingerprint'] == 'abc'
    assert upgraded.meta['version'] == 2
    for rel, boxes, size in _items():
        np.testing.assert_array_equal(upgraded[rel], store[rel])
        assert upgraded.level(rel) == store.level(rel)


def test_write_is_atomic_on_failure(tmp_path):
    path = str(tmp_path / 'p.npz')
    ProposalStore.write(path, _items())
    before = open(path, 'rb').read()

    def broken():
        yield _items()[0]
        raise RuntimeError('writer died')

    with pytest.raises(RuntimeError):
        ProposalStore.write(path, broken())
    assert open(path, 'rb').read() == before  # the old file is untouched
    assert os.listdir(tmp_path) == ['p.npz']  # and no temporary file is left


def test_write_arrays_concatenates_sorted_parts(tmp_path):
    a, b = str(tmp_path / 'a.npz'), str(tmp_path / 'b.npz')
    items = sorted(_items(), key=lambda i: i[0].encode())
    ProposalStore.write(a, items[:2])
    ProposalStore.write(b, items[2:])
    out = str(tmp_path / 'ab.npz')
    write_arrays(out, [lambda: ProposalStore.load(a).arrays(), ProposalStore.load(b).arrays()])
    store = ProposalStore.load(out)
    assert list(store.keys()) == [i[0] for i in items]
    for rel, boxes, size in items:
        np.testing.assert_array_equal(store[rel], np.asarray(boxes).reshape(-1, 4))
    with pytest.raises(ValueError, match='order'):
        write_arrays(str(tmp_path / 'ba.npz'),
                     [ProposalStore.load(b).arrays(), ProposalStore.load(a).arrays()])


def test_soco_json_round_trip(tmp_path):
    soco = {'n01/a.JPEG': [[1, 2, 10, 20], [0, 0, 5, 5]], 'n02/b.JPEG': [], 'c.png': [[3, 3, 4, 4]]}
    src = str(tmp_path / 'soco.json')
    with open(src, 'w') as f:
        json.dump(soco, f)
    out = str(tmp_path / 'p.npz')
    rep = import_soco_json(src, out)
    assert rep['images'] == 3 and rep['boxes'] == 3
    store = ProposalStore.load(out)
    np.testing.assert_array_equal(store['n01/a.JPEG'], [[1, 2, 11, 22], [0, 0, 5, 5]])
    assert store['n02/b.JPEG'].shape == (0, 4)
    assert store.image_size('c.png') == (0, 0)  # unknown without image_root
    back = str(tmp_path / 'back.json')
    assert export_soco_json(out, back) == 3
    with open(back) as f:
        assert json.load(f) == soco


def test_soco_json_import_matches_names_under_an_image_root(tmp_path):
    import cv2
    root = tmp_path / 'imgs'
    (root / 'n01').mkdir(parents=True)
    (root / 'n02').mkdir()
    cv2.imwrite(str(root / 'n01' / 'a.jpg'), np.zeros((30, 40, 3), np.uint8))
    cv2.imwrite(str(root / 'n02' / 'b.png'), np.zeros((50, 60, 3), np.uint8))
    cv2.imwrite(str(root / 'n01' / 'dup.jpg'), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(root / 'n02' / 'dup.jpg'), np.zeros((8, 8, 3), np.uint8))
    soco = {'a.jpg': [[1, 1, 5, 5]], 'n02/b.png': [[2, 2, 3, 3]], 'dup.jpg': [],
            'gone.jpg': [[0, 0, 1, 1]]}
    src = str(tmp_path / 'soco.json')
    with open(src, 'w') as f:
        json.dump(soco, f)
    rep = import_soco_json(src, str(tmp_path / 'p.npz'), image_root=str(root))
    assert rep['images'] == 2 and rep['unmatched'] == ['gone.jpg']
    assert rep['ambiguous'] == ['dup.jpg']
    store = ProposalStore.load(str(tmp_path / 'p.npz'))
    assert list(store.keys()) == ['n01/a.jpg', 'n02/b.png']
    assert store.image_size('n01/a.jpg') == (40, 30)
    assert store.image_size('n02/b.png') == (60, 50)


def test_data_prep_never_imports_the_training_stack():
    forbidden = {'torch', 'torchvision', 'mmengine', 'mmcv', 'mmdet', 'mmselfsup', 'mmcls',
                 'mmsoco'}
    folder = osp.join(REPO, 'data_prep')
    files = [osp.relpath(osp.join(d, n), folder) for d, _, names in os.walk(folder)
             for n in names if n.endswith('.py')]
    assert 'annotations/voc.py' in files                 # sub-packages are read too
    for name in sorted(files):
        tree = ast.parse(open(osp.join(folder, name)).read())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            for mod in mods:
                assert mod.split('.')[0] not in forbidden, f'{name} imports {mod}'


def test_storage_needs_numpy_only():
    code = ('import sys; from data_prep.storage import ProposalStore; '
            'print(sorted(m for m in ("cv2", "torch", "mmengine", "skimage") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO))
    assert out.stdout.strip() == '[]'


@pytest.mark.parametrize('box', [[-3, -1, 20, 30], [0, 0, 65536, 70000], [10, 20, 65535.5, 40]],
                         ids=['negative', 'above-uint16', 'fractional-at-the-edge'])
def test_coordinates_outside_uint16_keep_their_values(tmp_path, box):
    path = str(tmp_path / 'p.npz')
    ordinary = [0, 0, 65535, 65535]                   # fits uint16 exactly, as whole pixels
    ProposalStore.write(path, [('a.jpg', [ordinary], (65535, 65535)),
                               ('b.jpg', [box], (80000, 80000))])
    store = ProposalStore.load(path)
    assert store['b.jpg'].tolist() == [box]
    assert store['a.jpg'].tolist() == [ordinary]
    # and through a merge of two parts, one of which alone would fit uint16
    merged = str(tmp_path / 'm.npz')
    parts = []
    for name, boxes in (('a.jpg', [ordinary]), ('b.jpg', [box])):
        one = str(tmp_path / f'{name}.npz')
        ProposalStore.write(one, [(name, boxes, (1, 1))])
        parts.append(ProposalStore.load(one).arrays())
    write_arrays(merged, parts)
    again = ProposalStore.load(merged)
    assert again['a.jpg'].tolist() == [ordinary] and again['b.jpg'].tolist() == [box]


@pytest.mark.parametrize('change, message', [
    (dict(version=99), 'format version 99 is newer than this reader'),
    (dict(format='someone-elses-boxes'), "meta.format is 'someone-elses-boxes'"),
])
def test_newer_or_foreign_format_is_refused_with_the_path(tmp_path, change, message):
    path = str(tmp_path / 'p.npz')
    ProposalStore.write(path, _items())
    out = str(tmp_path / 'changed.npz')
    _resave(path, out, **change)
    with pytest.raises(ValueError, match=message) as err:
        ProposalStore.load(out)
    assert out in str(err.value)
