"""Readers of labelled detection sets (VOC XML, YOLO txt, COCO json) and the COCO writer."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from data_prep.annotations import (load_dataset, main, read_class_names, read_coco, read_voc,
                                   read_yolo, to_coco, write_coco)

DATASETS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '..', 'shared',
                    'datasets')


def _image(path, w, h):
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 1] = np.arange(w, dtype=np.uint8)[None, :]
    assert cv2.imwrite(path, img)


def _voc_xml(path, filename, size, objects):
    objs = ''.join(
        f'<object><name>{n}</name><difficult>{int(d)}</difficult><bndbox><xmin>{b[0]}</xmin>'
        f'<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>'
        for n, b, d in objects)
    size_xml = '' if size is None else (f'<size><width>{size[0]}</width><height>{size[1]}'
                                        '</height><depth>3</depth></size>')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(f'<annotation><filename>{filename}</filename>{size_xml}{objs}</annotation>')


@pytest.fixture
def voc_dir(tmp_path):
    root = tmp_path / 'voc'
    _image(str(root / 'JPEGImages' / 'a.png'), 60, 40)
    _image(str(root / 'JPEGImages' / 'b.png'), 30, 50)
    _image(str(root / 'JPEGImages' / 'c.png'), 30, 30)
    _voc_xml(str(root / 'Annotations' / 'a.xml'), 'a.png', (60, 40),
             [('dog', (1, 1, 60, 40), False), ('cat', (11, 6, 20, 15), True)])
    # no <size>, <filename> wrong: found by the XML's stem
    _voc_xml(str(root / 'Annotations' / 'b.xml'), 'elsewhere.jpg', None,
             [('cat', (2, 3, 30, 50), False)])
    # recorded size differs from the image: skipped, not trusted
    _voc_xml(str(root / 'Annotations' / 'c.xml'), 'c.png', (60, 60),
             [('dog', (1, 1, 10, 10), False)])
    os.makedirs(root / 'ImageSets' / 'Main')
    (root / 'ImageSets' / 'Main' / 'train.txt').write_text('b\n')
    return root


def test_voc_one_based_boxes_labels_difficult_and_skips(voc_dir):
    ds = read_voc(str(voc_dir / 'Annotations'), str(voc_dir / 'JPEGImages'))
    assert [r.file_name for r in ds.images] == ['a.png', 'b.png']
    assert ds.class_names == ['dog', 'cat']
    a, b = ds.images
    assert (a.width, a.height, b.width, b.height) == (60, 40, 30, 50)
    np.testing.assert_array_equal(a.boxes, [[0, 0, 60, 40], [10, 5, 20, 15]])
    np.testing.assert_array_equal(a.labels, [0, 1])
    np.testing.assert_array_equal(a.ignore, [False, True])
    np.testing.assert_array_equal(b.boxes, [[1, 2, 30, 50]])
    assert len(ds.skipped) == 1 and ds.skipped[0][0].endswith('c.xml')
    assert '60x60 != image size 30x30' in ds.skipped[0][1]

    zero = read_voc(str(voc_dir / 'Annotations'), str(voc_dir / 'JPEGImages'), zero_based=True)
    np.testing.assert_array_equal(zero.images[0].boxes[1], [11, 6, 20, 15])


def test_voc_split_file_and_fixed_classes(voc_dir):
    ds = load_dataset(str(voc_dir), 'voc', split='train')
    assert [r.file_name for r in ds.images] == ['b.png'] and ds.class_names == ['cat']
    ds = read_voc(str(voc_dir / 'Annotations'), str(voc_dir / 'JPEGImages'),
                  class_names=['cat', 'dog'])
    np.testing.assert_array_equal(ds.images[0].labels, [1, 0])
    with pytest.raises(ValueError, match="class 'dog' is not in"):
        read_voc(str(voc_dir / 'Annotations'), str(voc_dir / 'JPEGImages'), class_names=['cat'])
    with pytest.raises(ValueError, match="split 'nope'"):
        load_dataset(str(voc_dir), 'voc', split='nope')


def test_coco_round_trip_and_cli(voc_dir, tmp_path):
    out = tmp_path / 'out' / 'train.json'
    logs = []
    assert main(['voc', str(voc_dir / 'Annotations'), '--images', str(voc_dir / 'JPEGImages'),
                 '--out', str(out)], log=logs.append) == 0
    data = json.loads(out.read_text())
    assert [c['name'] for c in data['categories']] == ['dog', 'cat']
    assert [i['file_name'] for i in data['images']] == ['a.png', 'b.png']
    assert data['annotations'][1]['bbox'] == [10, 5, 10, 10]
    assert data['annotations'][1]['category_id'] == 2 and data['annotations'][1]['ignore'] == 1
    assert 'ignore' not in data['annotations'][0]
    assert any('skipped' in m and 'c.xml' in m for m in logs)

    back = read_coco(str(out), str(voc_dir / 'JPEGImages'))
    orig = read_voc(str(voc_dir / 'Annotations'), str(voc_dir / 'JPEGImages'))
    assert back.class_names == orig.class_names
    for r1, r2 in zip(back.images, orig.images):
        np.testing.assert_allclose(r1.boxes, r2.boxes)
        np.testing.assert_array_equal(r1.labels, r2.labels)
        np.testing.assert_array_equal(r1.ignore, r2.ignore)
    assert to_coco(back) == data

    assert main(['voc', str(tmp_path / 'missing'), '--images', str(voc_dir), '--out',
                 str(tmp_path / 'x.json')], log=logs.append) == 2
    assert 'no such annotation folder' in logs[-1]


@pytest.fixture
def yolo_dir(tmp_path):
    root = tmp_path / 'yolo'
    _image(str(root / 'images' / 'train' / 'x.jpg'), 100, 50)
    _image(str(root / 'images' / 'train' / 'sub' / 'y.png'), 40, 80)
    _image(str(root / 'images' / 'train' / 'z.jpg'), 20, 20)  # background image: no labels
    os.makedirs(root / 'labels' / 'train' / 'sub')
    (root / 'labels' / 'train' / 'x.txt').write_text(
        '1 0.5 0.5 0.2 0.4\n\n0 0.05 0.1 0.2 0.2\n')  # second box sticks out: clipped
    (root / 'labels' / 'train' / 'sub' / 'y.txt').write_text(
        '2 0.25 0.25 0.75 0.25 0.5 0.75\n')  # polygon -> its bounding box
    (root / 'labels' / 'train' / 'orphan.txt').write_text('0 0.5 0.5 0.1 0.1\n')
    (root / 'data.yaml').write_text('path: .\nnames:\n  0: person\n  1: bicycle\n  2: car\n')
    return root


def test_yolo_normalised_boxes_polygons_background_and_orphans(yolo_dir):
    ds = load_dataset(str(yolo_dir), 'yolo', split='train')
    assert ds.class_names == ['person', 'bicycle', 'car']
    names = [r.file_name for r in ds.images]
    assert names == ['sub/y.png', 'x.jpg', 'z.jpg']
    y, x, z = ds.images
    np.testing.assert_allclose(x.boxes, [[40, 15, 60, 35], [0, 0, 15, 10]])
    np.testing.assert_array_equal(x.labels, [1, 0])
    np.testing.assert_allclose(y.boxes, [[10, 20, 30, 60]])
    assert len(z.boxes) == 0 and z.boxes.shape == (0, 4)
    assert ds.notes == {'images without label file (no objects)': 1}
    assert [(osp.basename(p), r) for p, r in ds.skipped] == [('orphan.txt',
                                                             'label file without image')]
    # without names: class_<id>
    bare = read_yolo(str(yolo_dir / 'images' / 'train'), str(yolo_dir / 'labels' / 'train'))
    assert bare.class_names == ['class_0', 'class_1', 'class_2']


def test_yolo_bad_lines_name_file_and_line(yolo_dir):
    (yolo_dir / 'labels' / 'train' / 'x.txt').write_text('1 0.5 0.5 0.2 0.4\n1 0.5 oops 1 1\n')
    with pytest.raises(ValueError, match=r'x.txt:2: not numbers'):
        read_yolo(str(yolo_dir / 'images' / 'train'), str(yolo_dir / 'labels' / 'train'))
    (yolo_dir / 'labels' / 'train' / 'x.txt').write_text('1 0.5 0.5\n')
    with pytest.raises(ValueError, match=r'x.txt:1: expected "class cx cy w h"'):
        read_yolo(str(yolo_dir / 'images' / 'train'), str(yolo_dir / 'labels' / 'train'))
    (yolo_dir / 'labels' / 'train' / 'x.txt').write_text('3 0.5 0.5 0.1 0.1\n')
    with pytest.raises(ValueError, match='class id 3 outside 0..2'):
        read_yolo(str(yolo_dir / 'images' / 'train'), str(yolo_dir / 'labels' / 'train'),
                  ['a', 'b', 'c'])


def test_yolo_cli_writes_coco(yolo_dir, tmp_path):
    out = tmp_path / 'y.json'
    assert main(['yolo', str(yolo_dir / 'images' / 'train'), '--labels',
                 str(yolo_dir / 'labels' / 'train'), '--names', str(yolo_dir / 'data.yaml'),
                 '--out', str(out)], log=lambda m: None) == 0
    data = json.loads(out.read_text())
    assert len(data['images']) == 3 and len(data['annotations']) == 3
    assert data['annotations'][0]['bbox'] == [10, 20, 20, 40]
    assert data['annotations'][0]['category_id'] == 3


def test_class_name_files(tmp_path):
    (tmp_path / 'list.yaml').write_text('names: [a, "b c", d]\n')
    (tmp_path / 'dash.yml').write_text('nc: 2\nnames:\n  - x\n  - y\ntrain: t\n')
    (tmp_path / 'classes.txt').write_text('p\nq\n\n')
    assert read_class_names(str(tmp_path / 'list.yaml')) == ['a', 'b c', 'd']
    assert read_class_names(str(tmp_path / 'dash.yml')) == ['x', 'y']
    assert read_class_names(str(tmp_path / 'classes.txt')) == ['p', 'q']
    (tmp_path / 'map.yaml').write_text('names:\n  1: b\n  0: a\nother: 1\n')
    assert read_class_names(str(tmp_path / 'map.yaml')) == ['a', 'b']
    (tmp_path / 'broken.yaml').write_text('names: [a, b\n')
    with pytest.raises(ValueError, match='broken.yaml: not valid YAML'):
        read_class_names(str(tmp_path / 'broken.yaml'))
    (tmp_path / 'gap.yaml').write_text('names:\n  0: a\n  2: c\n')
    with pytest.raises(ValueError, match='not 0..1'):
        read_class_names(str(tmp_path / 'gap.yaml'))


def test_coco_reader_categories_crowd_and_missing_images(tmp_path):
    _image(str(tmp_path / 'imgs' / 'p.jpg'), 50, 40)
    data = dict(images=[dict(id=7, file_name='p.jpg', width=50, height=40),
                        dict(id=8, file_name='gone.jpg', width=10, height=10)],
                categories=[dict(id=90, name='kite'), dict(id=3, name='car')],
                annotations=[dict(id=1, image_id=7, category_id=3, bbox=[5, 5, 10, 20],
                                  iscrowd=1),
                             dict(id=2, image_id=7, category_id=90, bbox=[0, 0, 50, 40]),
                             dict(id=3, image_id=7, category_id=90, bbox=[1, 1, 0, 5])])
    (tmp_path / 'a.json').write_text(json.dumps(data))
    ds = read_coco(str(tmp_path / 'a.json'), str(tmp_path / 'imgs'))
    assert ds.class_names == ['kite', 'car'] and len(ds.images) == 1
    np.testing.assert_array_equal(ds.images[0].boxes, [[5, 5, 15, 25], [0, 0, 50, 40]])
    np.testing.assert_array_equal(ds.images[0].labels, [1, 0])
    np.testing.assert_array_equal(ds.images[0].ignore, [True, False])
    assert ds.notes == {'empty boxes dropped': 1}
    assert ds.skipped[0][1] == 'image listed in the json but missing'
    write_coco(ds, str(tmp_path / 'b.json'))
    written = json.loads((tmp_path / 'b.json').read_text())
    assert written['categories'][0] == dict(id=1, name='kite')
    data['annotations'][0]['category_id'] = 5
    (tmp_path / 'a.json').write_text(json.dumps(data))
    with pytest.raises(ValueError, match='unknown category_id 5'):
        read_coco(str(tmp_path / 'a.json'), str(tmp_path / 'imgs'))


@pytest.mark.parametrize('name,fmt,kwargs,images,boxes', [
    ('raccoon', 'voc', {}, 200, 217),
    ('kangaroo', 'voc', {}, 164, 266),
    ('bccd', 'voc', {}, 364, 4888),
    ('bccd', 'voc', dict(split='val'), 87, None),
    ('coco128', 'yolo', dict(split='val2017'), 128, 898),
])
def test_shared_datasets(name, fmt, kwargs, images, boxes):
    """The small real sets of ../shared/datasets read with their documented counts."""
    path = osp.join(DATASETS, name)
    if not osp.isdir(path):
        pytest.skip(f'{path} not present (the shared real datasets are not on this machine)')
    if name == 'coco128':  # labels under object_detection/, images under images/
        kwargs = dict(images=osp.join(path, 'images', 'val2017'),
                      annotations=osp.join(path, 'object_detection', 'labels', 'val2017'))
    ds = load_dataset(path, fmt, **kwargs)
    assert len(ds.images) == images and not ds.skipped
    if boxes is not None:
        assert ds.num_boxes == boxes
    for r in ds.images:
        assert np.all(r.boxes[:, 2] > r.boxes[:, 0]) and np.all(r.boxes[:, 3] > r.boxes[:, 1])
        assert np.all(r.boxes >= 0) and np.all(r.boxes[:, 2] <= r.width)
        assert np.all(r.boxes[:, 3] <= r.height)
    if name == 'coco128':
        assert ds.class_names[:3] == ['person', 'bicycle', 'car'] and len(ds.class_names) == 80
