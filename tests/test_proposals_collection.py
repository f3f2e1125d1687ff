"""Listing a collection's images, and the demo collection built from scikit-image's photos."""
import json
import os

import cv2
import numpy as np
import pytest

from data_prep.collection import list_images
from data_prep.demo_collection import PHOTOS, build_demo_collection


def _touch_image(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))


def test_class_folders_recursive_sorted_and_filtered(tmp_path):
    for rel in ['n2/x.JPEG', 'n1/b.png', 'n1/a.jpg', 'n1/sub/c.webp', '.hidden/d.jpg',
                'n1/.e.jpg']:
        _touch_image(tmp_path / rel)
    (tmp_path / 'n1' / 'notes.txt').write_text('not an image')
    assert list_images(str(tmp_path)) == ['n1/a.jpg', 'n1/b.png', 'n1/sub/c.webp', 'n2/x.JPEG']


def test_flat_folder_and_root(tmp_path):
    for rel in ['train2017/1.jpg', 'train2017/2.jpg']:
        _touch_image(tmp_path / rel)
    assert list_images(str(tmp_path / 'train2017')) == ['1.jpg', '2.jpg']
    assert list_images(str(tmp_path / 'train2017'), root=str(tmp_path)) == \
        ['train2017/1.jpg', 'train2017/2.jpg']


def test_list_file_with_labels_relative_to_its_folder_or_root(tmp_path):
    _touch_image(tmp_path / 'train' / 'n1' / 'a.JPEG')
    _touch_image(tmp_path / 'train' / 'n2' / 'b.JPEG')
    meta = tmp_path / 'meta'
    meta.mkdir()
    (meta / 'train.txt').write_text('n2/b.JPEG 1\n# comment\n\nn1/a.JPEG 0\nn1/a.JPEG 0\n')
    assert list_images(str(meta / 'train.txt'), root=str(tmp_path / 'train')) == \
        ['n1/a.JPEG', 'n2/b.JPEG']
    with pytest.raises(FileNotFoundError, match='--root'):
        list_images(str(meta / 'train.txt'))  # the paths are not relative to meta/
    (tmp_path / 'list.txt').write_text('train/n1/a.JPEG\n')
    assert list_images(str(tmp_path / 'list.txt')) == ['train/n1/a.JPEG']


def test_coco_json(tmp_path):
    _touch_image(tmp_path / 'train2017' / '000001.jpg')
    _touch_image(tmp_path / 'train2017' / '000002.jpg')
    ann = tmp_path / 'annotations'
    ann.mkdir()
    coco = dict(images=[dict(id=2, file_name='000002.jpg'), dict(id=1, file_name='000001.jpg')],
                annotations=[])
    (ann / 'instances_train2017.json').write_text(json.dumps(coco))
    assert list_images(str(ann / 'instances_train2017.json'), root=str(tmp_path / 'train2017')) \
        == ['000001.jpg', '000002.jpg']
    (ann / 'bad.json').write_text(json.dumps({'annotations': []}))
    with pytest.raises(ValueError, match='COCO'):
        list_images(str(ann / 'bad.json'), root=str(tmp_path / 'train2017'))


def test_no_images_is_a_clear_error(tmp_path):
    empty = tmp_path / 'empty'
    (empty / 'n1').mkdir(parents=True)
    (empty / 'n1' / 'readme.md').write_text('x')
    with pytest.raises(ValueError, match=str(empty)):
        list_images(str(empty))
    with pytest.raises(FileNotFoundError, match='nowhere'):
        list_images(str(tmp_path / 'nowhere'))
    (tmp_path / 'empty.txt').write_text('\n# nothing\n')
    with pytest.raises(ValueError, match='empty.txt'):
        list_images(str(tmp_path / 'empty.txt'))


def test_demo_collection_is_real_deterministic_and_listable(tmp_path):
    paths = build_demo_collection(str(tmp_path / 'a'))
    assert len(paths) == len(PHOTOS)
    assert paths == list_images(str(tmp_path / 'a'))
    assert all(p.startswith('train/n') and p.endswith('.jpg') for p in paths)
    img = cv2.imread(str(tmp_path / 'a' / 'train/n000/astronaut.jpg'), cv2.IMREAD_UNCHANGED)
    assert img.ndim == 3 and img.shape[2] == 3 and max(img.shape[:2]) <= 500
    assert img.std() > 20  # a photo, not a blank
    again = build_demo_collection(str(tmp_path / 'b'))
    assert again == paths
    for p in paths:
        assert (tmp_path / 'a' / p).read_bytes() == (tmp_path / 'b' / p).read_bytes()


def test_demo_collection_variants(tmp_path):
    paths = build_demo_collection(str(tmp_path), n_images=30)
    assert len(paths) == 30 == len(set(paths))
    a = cv2.imread(str(tmp_path / 'train/n000/astronaut.jpg'))
    b = cv2.imread(str(tmp_path / 'train/n000/astronaut_1.jpg'))
    assert a.shape == b.shape and np.abs(a[:, ::-1].astype(int) - b).mean() < 3  # mirrored
    assert build_demo_collection(str(tmp_path / 'three'), 3) == \
        ['train/n000/astronaut.jpg', 'train/n001/chelsea.jpg', 'train/n002/coffee.jpg']
