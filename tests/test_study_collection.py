"""The study's pretraining list: each photo once (by real path), no segmentation label masks."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmsoco.study.collection import is_mask_path, write_pretrain_list

DATASETS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '..', 'shared',
                    'datasets')


def _png(path):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, np.zeros((8, 8, 3), np.uint8))


def test_links_are_listed_once_and_masks_left_out(tmp_path):
    src = tmp_path / 'set'
    _png(str(src / 'images' / 'a.png'))
    _png(str(src / 'images' / 'b.png'))
    os.makedirs(src / 'detection')
    os.symlink('../images', src / 'detection' / 'images')          # coco128_yolo's layout
    os.symlink('images/a.png', src / 'a_again.png')
    _png(str(src / 'trainannot' / 'a.png'))                       # CamVid's label masks
    _png(str(src / 'SegmentationClass' / 'b.png'))                # VOC's
    lines = []
    out = str(tmp_path / 'images.txt')
    counts = write_pretrain_list([str(src)], str(tmp_path / 'root'), out, log=lines.append)
    listed = [line.split()[0] for line in open(out)]
    assert sorted(osp.realpath(osp.join(tmp_path, 'root', p)) for p in listed) == [
        str(src / 'images' / 'a.png'), str(src / 'images' / 'b.png')]
    assert counts == dict(images=2, skipped=0, masks=2, duplicates=3)
    assert any('2 segmentation label masks' in m for m in lines)
    assert any('3 images reached through a second path' in m for m in lines)


def test_mask_folders():
    for path in ('camvid/trainannot/x.png', 'VOC2012/SegmentationClassAug/x.png',
                 'ADEChallengeData2016/annotations/training/x.png', 'city/gtFine/train/x.png'):
        assert is_mask_path(path), path
    for path in ('camvid/train/x.png', 'coco/train2017/x.jpg', 'annotations.png',
                 'annotated_photos/x.jpg'):
        assert not is_mask_path(path), path


@pytest.mark.skipif(not osp.isdir(osp.join(DATASETS, 'camvid')),
                    reason='the CamVid subset of the shared datasets folder is absent')
def test_camvid_lists_its_photos_not_its_masks(tmp_path):
    out = str(tmp_path / 'images.txt')
    counts = write_pretrain_list([osp.join(DATASETS, 'camvid')], str(tmp_path / 'root'), out,
                                 log=lambda m: None)
    listed = [line.split()[0] for line in open(out)]
    photos = sum(len(open(osp.join(DATASETS, 'camvid', f'{s}.txt')).read().split())
                 for s in ('train', 'val'))
    assert counts['images'] == len(listed) == photos and counts['masks'] == photos
    assert all('annot/' not in p for p in listed)
