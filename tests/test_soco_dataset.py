"""SoCoDataset: folders, list files and COCO jsons paired with a proposals file."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

import mmsoco  # noqa: F401
import mmsoco.datasets.soco_dataset as soco_dataset
from data_prep.storage import ProposalStore
from mmsoco.datasets import SoCoDataset
from mmsoco.registry import DATASETS


def write_collection(root, rel_paths, size=(64, 48), seed=0):
    """Small JPEGs at ``root/rel_path``; returns their proposal items (2 boxes each)."""
    rng = np.random.default_rng(seed)
    items = []
    for i, rel in enumerate(rel_paths):
        path = osp.join(root, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        cv2.imwrite(path, rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
        boxes = np.array([[1, 2, 30, 40], [10 + i, 5, 60, 45]], np.float32)
        items.append((rel, boxes, size))
    return items


IMAGENET_STYLE = ['n01/a.JPEG', 'n01/b.JPEG', 'n02/c.JPEG']


def test_imagenet_style_folder(tmp_path):
    items = write_collection(tmp_path / 'train', IMAGENET_STYLE)
    ProposalStore.write(str(tmp_path / 'proposals.npz'), items)
    dataset = SoCoDataset(data_root=str(tmp_path), proposals_file='proposals.npz')
    assert len(dataset) == 3
    for i, (rel, boxes, size) in enumerate(items):
        info = dataset.get_data_info(i)
        assert info['img_path'] == osp.join(str(tmp_path), 'train', rel)
        assert info['proposals'].dtype == np.float32 and info['proposals'].shape == (2, 4)
        np.testing.assert_array_equal(info['proposals'], boxes)
        np.testing.assert_array_equal(info['proposal_ids'], np.arange(2))
        assert info['proposal_ids'].dtype == np.int64
        assert info['proposals_image_size'] == size
        assert info['sample_idx'] == i
    assert dataset.num_without_proposals == 0


def test_built_from_registry_with_absolute_proposals(tmp_path):
    items = write_collection(tmp_path / 'imgs', ['x.png', 'y.png'])
    ProposalStore.write(str(tmp_path / 'p.npz'), items)
    dataset = DATASETS.build(dict(type='SoCoDataset', data_root=str(tmp_path),
                                  proposals_file=str(tmp_path / 'p.npz'),
                                  data_prefix=dict(img_path='imgs/')))
    assert [osp.basename(dataset.get_data_info(i)['img_path']) for i in range(2)] == \
        ['x.png', 'y.png']


def test_list_file_and_keys_relative_to_data_root(tmp_path):
    items = write_collection(tmp_path / 'train', IMAGENET_STYLE)
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'train.txt').write_text('n02/c.JPEG 1\nn01/a.JPEG 0\n')
    # a proposals file keyed relative to data_root ('train/...') is accepted too
    ProposalStore.write(str(tmp_path / 'proposals.npz'),
                        [('train/' + rel, b, s) for rel, b, s in items])
    dataset = SoCoDataset(data_root=str(tmp_path), proposals_file='proposals.npz',
                          ann_file='meta/train.txt')
    assert len(dataset) == 2
    names = sorted(dataset.get_data_info(i)['img_path'][len(str(tmp_path)) + 1:]
                   for i in range(2))
    assert names == ['train/n01/a.JPEG', 'train/n02/c.JPEG']
    assert all(len(dataset.get_data_info(i)['proposals']) == 2 for i in range(2))


def test_coco_json(tmp_path):
    names = ['000000000009.jpg', '000000000025.jpg']
    items = write_collection(tmp_path / 'train2017', names)
    (tmp_path / 'annotations').mkdir()
    coco = dict(images=[dict(id=i, file_name=n, width=64, height=48)
                        for i, n in enumerate(names)], annotations=[], categories=[])
    (tmp_path / 'annotations' / 'instances_train2017.json').write_text(json.dumps(coco))
    ProposalStore.write(str(tmp_path / 'proposals_train2017.npz'), items)
    dataset = SoCoDataset(data_root=str(tmp_path), proposals_file='proposals_train2017.npz',
                          ann_file='annotations/instances_train2017.json',
                          data_prefix=dict(img_path='train2017/'))
    assert len(dataset) == 2
    assert dataset.get_data_info(1)['img_path'].endswith('train2017/000000000025.jpg')


def test_missing_paths_give_clear_errors(tmp_path):
    items = write_collection(tmp_path / 'train', IMAGENET_STYLE)
    ProposalStore.write(str(tmp_path / 'proposals.npz'), items)
    missing_root = str(tmp_path / 'nope')
    with pytest.raises(FileNotFoundError, match=f"data_root '{missing_root}' does not exist"):
        SoCoDataset(data_root=missing_root, proposals_file='proposals.npz')
    with pytest.raises(FileNotFoundError, match=r"image folder .*val.* data_prefix"):
        SoCoDataset(data_root=str(tmp_path), proposals_file='proposals.npz',
                    data_prefix=dict(img_path='val/'))
    with pytest.raises(FileNotFoundError, match=r"proposals file .*missing\.npz.* not found.*"
                                                r"proposal stage"):
        SoCoDataset(data_root=str(tmp_path), proposals_file='missing.npz')
    with pytest.raises(FileNotFoundError, match='no proposals_file given'):
        SoCoDataset(data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="ann_file .*absent.txt"):
        SoCoDataset(data_root=str(tmp_path), proposals_file='proposals.npz',
                    ann_file='absent.txt')


def test_proposals_for_another_collection_is_an_error(tmp_path):
    write_collection(tmp_path / 'train', IMAGENET_STYLE)
    ProposalStore.write(str(tmp_path / 'other.npz'),
                        [('elsewhere/z.jpg', np.zeros((1, 4)), (10, 10))])
    with pytest.raises(ValueError, match=r"covers none of the 3 images.*'n01/a.JPEG'.*"
                                         r"'elsewhere/z.jpg'"):
        SoCoDataset(data_root=str(tmp_path), proposals_file='other.npz')


def test_images_without_proposals_are_counted_and_kept(tmp_path, monkeypatch):
    items = write_collection(tmp_path / 'train', IMAGENET_STYLE)
    ProposalStore.write(str(tmp_path / 'proposals.npz'), items[:2])
    logged = []
    monkeypatch.setattr(soco_dataset, 'print_log', lambda msg, **kw: logged.append(msg))
    dataset = SoCoDataset(data_root=str(tmp_path), proposals_file='proposals.npz')
    assert len(dataset) == 3 and dataset.num_without_proposals == 1
    assert len(logged) == 1 and '1 of 3 images have no entry' in logged[0]
    assert 'n02/c.JPEG' in logged[0]
    info = dataset.get_data_info(2)
    assert info['proposals'].shape == (0, 4) and info['proposal_ids'].shape == (0, )
    assert info['proposals_image_size'] is None


def test_coco_train_plus_unlabeled_as_concat(tmp_path):
    init_default_scope('mmselfsup')
    parts = []
    for split, names in (('train2017', ['a.jpg', 'b.jpg']), ('unlabeled2017', ['c.jpg'])):
        items = write_collection(tmp_path / split, names)
        ProposalStore.write(str(tmp_path / f'proposals_{split}.npz'), items)
        parts.append(dict(type='SoCoDataset', data_root=str(tmp_path),
                          proposals_file=f'proposals_{split}.npz',
                          data_prefix=dict(img_path=f'{split}/')))
    dataset = DATASETS.build(dict(type='ConcatDataset', datasets=parts))
    assert len(dataset) == 3
    assert dataset.get_data_info(2)['img_path'].endswith('unlabeled2017/c.jpg')
    assert len(dataset.get_data_info(2)['proposals']) == 2


def test_an_unreadable_image_is_a_logged_counted_skip(tmp_path):
    from mmsoco.datasets import soco_train_pipeline
    items = write_collection(tmp_path / 'train', IMAGENET_STYLE, size=(96, 80))
    ProposalStore.write(str(tmp_path / 'proposals.npz'), items)
    with open(tmp_path / 'train' / 'n01' / 'b.JPEG', 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 not really a jpeg')           # corrupt after proposals
    init_default_scope('mmselfsup')
    dataset = SoCoDataset(data_root=str(tmp_path), proposals_file='proposals.npz',
                          pipeline=soco_train_pipeline())
    loader = dataset.pipeline.transforms[0]
    assert type(loader).__name__ == 'LoadImageOrSkip'
    sample = dataset[1]                                          # b.JPEG: another sample instead
    assert loader.fallbacks['unreadable'] >= 1
    assert not sample['data_samples'].img_path.endswith('b.JPEG')
    assert sample['inputs'][0].shape == (3, 224, 224)
