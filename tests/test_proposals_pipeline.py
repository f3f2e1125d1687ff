"""generate_proposals end to end: real photos, bad inputs, the report, the CLI, the drawing."""
import json
import os
import os.path as osp
import shutil
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest

from data_prep.demo_collection import build_demo_collection, load_photo
from data_prep.filters import BoxFilter
from data_prep.pipeline import generate_proposals, output_paths
from data_prep.selective_search import SelectiveSearch
from data_prep.storage import ProposalStore

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _quiet(msg):
    pass


def _run(src, out, **kw):
    kw.setdefault('workers', 0)
    kw.setdefault('progress', False)
    kw.setdefault('log', _quiet)
    return generate_proposals(str(src), str(out), **kw)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo')
    paths = build_demo_collection(str(root), 6)
    return root, paths


def test_real_photos_end_to_end(demo, tmp_path):
    root, paths = demo
    out = tmp_path / 'p.npz'
    report = _run(root, out)
    store = ProposalStore.load(str(out))
    assert list(store.keys()) == paths
    assert report['images'] == 6 and report['counts']['failed'] == 0
    f = BoxFilter()
    sizes = {}
    for p in paths:
        img = cv2.imread(str(root / p))
        sizes[p] = img.shape[1], img.shape[0]
        assert store.image_size(p) == sizes[p]
        assert len(store[p]) > 0
    # real photos: most have object-sized boxes (the rest fall back, counted in the report)
    filtered = [p for p in paths if store.level(p) == 'filtered']
    assert len(filtered) >= len(paths) // 2
    assert report['counts']['filtered'] == len(filtered)
    for p in filtered:  # every kept box passes the paper's filter
        assert f.mask(store[p], *sizes[p]).all(), p
    parts_dir, report_path = output_paths(str(out))
    assert not osp.exists(parts_dir)  # merged and cleaned up
    with open(report_path) as fh:
        assert json.load(fh)['boxes']['kept_total'] == store.num_boxes
    # the file records the settings it was made with (what a resume and a merge compare)
    assert store.meta['settings'] == dict(search=SelectiveSearch().to_dict(),
                                          filter=BoxFilter().to_dict())


# ------------------------------------------------------------------------------ bad input
def _png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack(
        '>I', zlib.crc32(kind + data) & 0xffffffff)


def _png_bomb(width, height):
    """A tiny PNG whose header claims a gigantic image."""
    return (b'\x89PNG\r\n\x1a\n'
            + _png_chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + _png_chunk(b'IEND', b''))


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an EXIF APP1 segment holding only the Orientation tag."""
    tiff = (b'MM\x00*\x00\x00\x00\x08' + struct.pack('>H', 1)
            + struct.pack('>HHIHH', 0x0112, 3, 1, orientation, 0) + b'\x00\x00\x00\x00')
    payload = b'Exif\x00\x00' + tiff
    return jpeg[:2] + b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload + jpeg[2:]


@pytest.fixture(scope='module')
def bad_collection(tmp_path_factory):
    """One good photo and every kind of awkward file, generated here."""
    root = tmp_path_factory.mktemp('bad')
    photo = load_photo('chelsea.png')  # 451 x 300 BGR
    jpeg = cv2.imencode('.jpg', photo)[1].tobytes()

    def put(name, data):
        (root / name).write_bytes(data)

    put('good.jpg', jpeg)
    put('zero_bytes.jpg', b'')
    put('truncated.jpg', jpeg[:len(jpeg) // 2])
    put('corrupt.jpg', bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
    put('not_really.png', b'this is a text file, not a PNG')
    put('bomb.png', _png_bomb(100000, 100000))
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    put('grayscale.jpg', cv2.imencode('.jpg', gray)[1].tobytes())
    put('sixteen_bit.png', cv2.imencode('.png', photo.astype(np.uint16) * 257)[1].tobytes())
    bgra = cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA)
    bgra[..., 3] = 128
    put('alpha.png', cv2.imencode('.png', bgra)[1].tobytes())
    put('rotated.jpg', _with_exif_orientation(jpeg, 6))
    large = cv2.resize(photo, (4500, 3000), interpolation=cv2.INTER_LINEAR)
    put('very_large.jpg', cv2.imencode('.jpg', large, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    from PIL import Image  # scikit-image depends on Pillow; OpenCV cannot write CMYK
    Image.fromarray(photo[..., ::-1]).convert('CMYK').save(str(root / 'cmyk.jpg'))
    put('tiny.png', cv2.imencode('.png', photo[:10, :10])[1].tobytes())
    return root


def test_bad_inputs_are_converted_or_skipped_and_reported(bad_collection, tmp_path):
    root = bad_collection
    out = tmp_path / 'p.npz'
    report = _run(root, out)
    store = ProposalStore.load(str(out))
    failed = {f['path']: f['reason'] for f in report['failed']}
    assert set(failed) == {'zero_bytes.jpg', 'truncated.jpg', 'corrupt.jpg', 'not_really.png',
                           'bomb.png'}
    assert 'empty file' in failed['zero_bytes.jpg']
    assert 'too large' in failed['bomb.png']
    assert 'cannot decode' in failed['truncated.jpg']
    assert report['counts']['failed'] == 5
    for name in failed:
        assert name not in store  # a training job never sees them

    converted = {k: v['images'] for k, v in report['converted'].items()}
    assert converted['grayscale'] == ['grayscale.jpg']
    assert converted['16-bit'] == ['sixteen_bit.png']
    assert converted['alpha'] == ['alpha.png']
    assert converted['exif-orientation'] == ['rotated.jpg']
    assert converted['large'] == ['very_large.jpg']
    assert converted['cmyk'] == ['cmyk.jpg']

    for name in ['good.jpg', 'grayscale.jpg', 'sixteen_bit.png', 'alpha.png', 'rotated.jpg',
                 'very_large.jpg', 'cmyk.jpg']:
        assert name in store and len(store[name]) > 0, name
    assert store.image_size('good.jpg') == (451, 300)
    # the same geometry as the training loader (OpenCV IMREAD_COLOR applies EXIF orientation)
    loaded = cv2.imread(str(root / 'rotated.jpg'), cv2.IMREAD_COLOR)
    assert store.image_size('rotated.jpg') == (loaded.shape[1], loaded.shape[0]) == (300, 451)
    assert store['rotated.jpg'][:, 3].max() <= 451
    # a very large image is segmented downscaled, its boxes are in its own pixels
    assert store.image_size('very_large.jpg') == (4500, 3000)
    assert store['very_large.jpg'][:, 2].max() > 2048
    assert BoxFilter().mask(store['very_large.jpg'], 4500, 3000).all()
    # a 10x10 image has no box passing any filter but is kept, listed
    assert 'tiny.png' in store
    assert report['images'] == len(os.listdir(root))
    assert report['images'] == len(store) + 5


def test_a_source_without_images_is_a_clear_error(tmp_path, capsys):
    from data_prep.generate_proposals import main
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'readme.txt').write_text('no images here')
    code = main([str(tmp_path / 'empty'), '--out', str(tmp_path / 'p.npz'), '--no-progress'])
    assert code == 2
    err = capsys.readouterr().err
    assert 'no image files' in err and str(tmp_path / 'empty') in err
    assert not (tmp_path / 'p.npz').exists()


def test_rerun_is_a_no_op_and_other_settings_are_refused(demo, tmp_path):
    root, paths = demo
    out = tmp_path / 'p.npz'
    _run(root, out)
    stamp = out.stat().st_mtime_ns
    messages = []
    _run(root, out, log=messages.append)
    assert out.stat().st_mtime_ns == stamp
    assert any('already complete' in m for m in messages)
    with pytest.raises(FileExistsError, match='--overwrite'):
        _run(root, out, search=SelectiveSearch(scale=200))
    _run(root, out, search=SelectiveSearch(scale=200), overwrite=True)
    assert ProposalStore.load(str(out)).meta['settings']['search']['scale'] == 200


def test_cli_with_list_file_and_soco_json_round_trip(demo, tmp_path):
    root, paths = demo
    lst = tmp_path / 'list.txt'
    lst.write_text(''.join(f'{p} 0\n' for p in paths[:3]))
    out = tmp_path / 'p.npz'
    res = subprocess.run(  # as documented: python -m, from the repository, no PYTHONPATH
        [sys.executable, '-m', 'data_prep.generate_proposals', str(lst),
         '--root', str(root), '--out', str(out), '--workers', '1', '--no-progress',
         '--strategy', 'color+fill', '--scale', '250'],
        capture_output=True, text=True, cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != 'PYTHONPATH'})
    assert res.returncode == 0, res.stderr
    assert '3 images' in res.stdout
    store = ProposalStore.load(str(out))
    assert list(store.keys()) == paths[:3]
    assert store.meta['settings']['search']['strategy'] == 'color+fill'

    from data_prep.generate_proposals import main
    soco = tmp_path / 'soco.json'
    assert main(['--out', str(out), '--export-soco-json', str(soco)]) == 0
    back = tmp_path / 'back.npz'
    assert main(['--out', str(back), '--import-soco-json', str(soco), '--root', str(root)]) == 0
    again = ProposalStore.load(str(back))
    assert list(again.keys()) == paths[:3]
    for p in paths[:3]:
        np.testing.assert_array_equal(again[p], store[p])
        assert again.image_size(p) == store.image_size(p)


def _same_file(a: ProposalStore, b: ProposalStore):
    for name, arr in a.arrays().items():
        other = b.arrays()[name]
        assert arr.dtype == other.dtype, name
        np.testing.assert_array_equal(arr, other, err_msg=name)


def test_parts_merged_equal_a_single_run(demo, tmp_path):
    root, paths = demo
    single = tmp_path / 'single.npz'
    single_report = _run(root, single, shard_size=1)
    out = tmp_path / 'p.npz'
    parts_dir, report_path = output_paths(str(out))
    assert _run(root, out, shard_size=1, part=(2, 3))['shards'] == [4, 6]
    assert _run(root, out, shard_size=1, part=(0, 3))['shards'] == [0, 2]
    assert not out.exists()
    with pytest.raises(RuntimeError, match=r'2 of 6 shards are not computed yet \(shards 2-3\)'):
        _run(root, out, shard_size=1, merge_only=True)
    assert not out.exists()

    from data_prep.generate_proposals import main
    assert main([str(root), '--out', str(out), '--shard-size', '1', '--workers', '0',
                 '--no-progress', '--part', '1/3']) == 0
    report = _run(root, out, shard_size=1, merge_only=True)
    assert not osp.exists(parts_dir)
    merged, reference = ProposalStore.load(str(out)), ProposalStore.load(str(single))
    assert list(merged.keys()) == paths
    _same_file(merged, reference)  # same rows in the same order: paths, boxes, sizes, levels
    for key in set(merged.meta) | set(reference.meta):
        if key != 'created':
            assert merged.meta.get(key) == reference.meta.get(key), key
    for key in set(report) - {'output', 'timing'}:
        assert report[key] == single_report[key], key
    # the merged file counts as the single run's: running that command again does nothing
    messages = []
    _run(root, out, shard_size=1, log=messages.append)
    assert any('already complete' in m for m in messages)


def test_part_arguments_are_checked(demo, tmp_path, capsys):
    root, _ = demo
    from data_prep.generate_proposals import main
    for bad in ('3/3', '-1/2', 'a/b', '1'):
        with pytest.raises(SystemExit):
            main([str(root), '--out', str(tmp_path / 'p.npz'), '--part', bad])
        assert '--part' in capsys.readouterr().err
    with pytest.raises(ValueError, match='cannot --overwrite or --merge'):
        _run(root, tmp_path / 'p.npz', part=(0, 2), overwrite=True)


def test_draw_proposals_writes_a_png_with_the_boxes(demo, tmp_path):
    root, paths = demo
    out = tmp_path / 'p.npz'
    _run(root, out)
    from data_prep.draw_proposals import main
    png = tmp_path / 'boxes.png'
    assert main([str(out), '--root', str(root), '--image', paths[2], '--out', str(png)]) == 0
    drawn = cv2.imread(str(png))
    original = cv2.imread(str(root / paths[2]))
    assert drawn.shape == original.shape
    changed = np.any(np.abs(drawn.astype(int) - original) > 60, axis=2)
    x1, y1, x2, y2 = ProposalStore.load(str(out))[paths[2]][0].astype(int)
    assert changed[y1 + 5:y2 - 5, x1].mean() > 0.5  # the first box's left edge is drawn
    assert main([str(out), '--root', str(root), '--image', 'nope.jpg', '--out', str(png)]) == 2


def test_no_leftovers_after_success(demo, tmp_path):
    root, _ = demo
    out = tmp_path / 'sub' / 'p.npz'
    _run(root, out, keep_parts=True)
    parts_dir, report_path = output_paths(str(out))
    assert sorted(os.listdir(tmp_path / 'sub')) == ['p.npz', 'p.parts', 'p.report.json']
    assert not [n for n in os.listdir(parts_dir) if n.endswith('.tmp')]
    shutil.rmtree(parts_dir)


def test_shards_manifest_output_and_report_follow_the_umask(demo, tmp_path):
    root, _ = demo
    out = tmp_path / 'p.npz'
    old = os.umask(0o027)
    try:
        _run(root, out, shard_size=4, keep_parts=True)
    finally:
        os.umask(old)
    parts_dir, report = output_paths(str(out))
    written = [str(out), report] + [osp.join(parts_dir, n) for n in os.listdir(parts_dir)
                                    if not n.startswith('lock')]
    assert any(n.startswith('shard-') for n in os.listdir(parts_dir))
    assert 'manifest.json' in os.listdir(parts_dir)
    assert {p: oct(os.stat(p).st_mode & 0o777) for p in written} == \
        {p: oct(0o640) for p in written}
