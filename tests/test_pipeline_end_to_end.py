"""Real photos -> SoCoDataset -> default_collate -> SelfSupDataPreprocessor, and the PNG tool."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmselfsup.models.utils import SelfSupDataPreprocessor
from mmselfsup.structures import SelfSupDataSample
from skimage import data as skdata

import mmsoco  # noqa: F401
from data_prep.storage import ProposalStore
from mmsoco.datasets import soco_train_pipeline
from mmsoco.datasets.visualization import proposal_colour, render_sample_views
from mmsoco.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


@pytest.fixture(scope='module')
def collection(tmp_path_factory):
    """Four scikit-image photos as 500x375 JPEGs in class folders, with random proposals."""
    root = tmp_path_factory.mktemp('photos')
    rng = np.random.default_rng(0)
    items = []
    for i, name in enumerate(('astronaut', 'chelsea', 'coffee', 'rocket')):
        rel = f'class_{i % 2}/{name}.jpg'
        os.makedirs(root / 'train' / f'class_{i % 2}', exist_ok=True)
        img = cv2.resize(getattr(skdata, name)()[..., ::-1], (500, 375))
        cv2.imwrite(str(root / 'train' / rel), img)
        n = [12, 3, 1, 0][i]  # 0: an image whose entry has no box
        wh = rng.uniform(30, 200, (n, 2))
        xy = rng.uniform(0, 1, (n, 2)) * ([500, 375] - wh)
        items.append((rel, np.concatenate([xy, xy + wh], 1), (500, 375)))
    ProposalStore.write(str(root / 'proposals.npz'), items)
    return root


def build(collection, num_views):
    init_default_scope('mmselfsup')
    return DATASETS.build(dict(
        type='SoCoDataset', data_root=str(collection), proposals_file='proposals.npz',
        pipeline=soco_train_pipeline(num_views=num_views)))


@pytest.mark.parametrize('num_views', [3, 4])
def test_batch_through_collate_and_preprocessor(collection, num_views):
    dataset = build(collection, num_views)
    samples = [dataset[i] for i in range(len(dataset))]
    sizes = [224, 224, 112, 192][:num_views]
    for sample in samples:
        assert set(sample) == {'inputs', 'data_samples'}
        assert [tuple(v.shape) for v in sample['inputs']] == [(3, s, s) for s in sizes]
        assert all(v.dtype == torch.uint8 for v in sample['inputs'])
        ds = sample['data_samples']
        assert isinstance(ds, SelfSupDataSample)
        assert ds.view_bboxes.shape == (num_views, 4, 4) and ds.view_bboxes.dtype == torch.float32
        assert ds.proposal_ids.shape == (num_views, 4) and ds.proposal_ids.dtype == torch.int64
        assert ds.proposal_valid.shape == (num_views, 4) and ds.proposal_valid.dtype == torch.bool
        assert ds.box_sets == [(v, None) for v in range(num_views)]
        assert (ds.proposal_ids == ds.proposal_ids[0]).all()
        for v, s in enumerate(sizes):
            assert (ds.view_bboxes[v] >= 0).all() and (ds.view_bboxes[v] <= s).all()
        assert 'img_path' in ds and 'sample_idx' in ds
    # the image whose entry has no box trains on the whole image
    no_box = [s['data_samples'] for s in samples if 'rocket' in s['data_samples'].img_path][0]
    assert (no_box.proposal_ids == -1).all() and (no_box.proposal_valid.sum(1) == 1).all()

    batch = default_collate(samples)
    preprocessor = SelfSupDataPreprocessor(mean=MEAN, std=STD, bgr_to_rgb=True)
    inputs, data_samples = preprocessor(batch, training=True)  # mmselfsup 1.0: a tuple
    assert isinstance(inputs, list) and len(inputs) == num_views
    n = len(samples)
    assert [tuple(x.shape) for x in inputs] == [(n, 3, s, s) for s in sizes]
    assert all(x.dtype == torch.float32 for x in inputs)
    assert isinstance(data_samples, list) and len(data_samples) == n
    # channel 0 after the preprocessor is R, normalised: the packed views are BGR
    raw = samples[0]['inputs'][1].float()
    np.testing.assert_allclose(inputs[1][0, 0], (raw[2] - MEAN[0]) / STD[0], atol=1e-4)
    # what the SoCo algorithm stacks
    assert torch.stack([s.view_bboxes for s in data_samples]).shape == (n, num_views, 4, 4)


def test_dataloader_workers(collection):
    dataset = build(collection, 3)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2,
                                         collate_fn=default_collate)
    batches = list(loader)
    assert len(batches) == 2
    shapes = [tuple(x.shape) for x in batches[0]['inputs']]
    assert shapes == [(2, 3, 224, 224), (2, 3, 224, 224), (2, 3, 112, 112)]


def test_visualisation_draws_each_proposal_in_its_colour(collection):
    dataset = build(collection, 4)
    grid = render_sample_views(dataset, index=0, num_draws=2, seed=0)
    assert grid.dtype == np.uint8 and grid.ndim == 3
    # the 500x375 source at height 224 and the four views side by side; two rows
    assert grid.shape[1] >= 299 + 224 + 224 + 112 + 192 and grid.shape[0] > 2 * 224
    # every valid proposal of the first row shows up in its colour
    np.random.seed(0)
    from mmsoco.datasets.visualization import run_until_pack
    results = run_until_pack(dataset.pipeline, dataset.get_data_info(0))
    pids = results['view_proposal_ids'][0][results['proposal_valid'][0]]
    assert len(pids) >= 2 and (pids >= 0).all()  # real proposals, not the whole-image fallback
    for pid in pids:
        colour = np.array(proposal_colour(int(pid)))
        assert (np.abs(grid.astype(int) - colour).max(axis=2) == 0).sum() > 50, pid


def test_visualize_views_tool_writes_png(collection, tmp_path):
    out = tmp_path / 'new' / 'views.png'   # the folder is made (default work_dirs/views.png)
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'visualize_views.py'), '--data-root',
         str(collection), '--proposals', 'proposals.npz', '--num-views', '4', '--index', '1',
         '--num-draws', '2', '--out', str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 2 * 224
    assert 'views.png' in proc.stdout
