"""Patch-level MoCo: the geometric cell matching, the queue, the key momentum, the loss, the
fallback without overlap, the stride check, and every configs/dense PLMoCo config training 2
iterations on real photos (coco128)."""
import copy
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmselfsup.structures import SelfSupDataSample

import mmsoco  # noqa: F401
from mmsoco.converters.builder import build_segmentor, build_soco_model
from mmsoco.converters.init_checkpoint import convert_init_checkpoint
from mmsoco.converters.to_mmseg_decoder import (check_decoder_against_segmentor,
                                                convert_dense_state_dict)
from mmsoco.datasets.transforms.box_ops import crop_resize_matrix
from mmsoco.datasets.transforms.geometric import BoxAwareRandomFlip
from mmsoco.datasets.transforms.geometric_views import GeometricMultiView, crop_view
from mmsoco.datasets.cell_matching import NO_MATCH, geometric_match
from mmsoco.models.utils.feature_queue import FeatureQueue
from mmsoco.registry import MODELS
from mmsoco.testing import REPO

DENSE_DIR = osp.join(REPO, 'configs', 'dense')
COCO128 = osp.join(osp.dirname(REPO), 'shared', 'datasets', 'coco128', 'images', 'train2017')
needs_coco128 = pytest.mark.skipif(not osp.isdir(COCO128), reason=f'coco128 not at {COCO128}')
STRIDE = 16
SIZE = 128                                    # 8 x 8 cells at stride 16
CROP_Q = (0, 0, 200, 180)                     # (x0, y0, w, h) in the image
CROP_K = (100, 60, 200, 180)                  # overlaps the query's lower right; flipped


def coordinate_image(width=320, height=240):
    """float32 (h, w, 3): channel 0 holds each pixel centre's x, channel 1 its y."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    return np.stack([xs, ys, np.zeros_like(xs)], axis=2)


def centre_coordinates(view, stride=STRIDE):
    """The image point under every cell centre of a view, read from its pixels: (h*w, 2).

    A centre ``(j + 1/2) s`` lies between view pixels ``(j + 1/2) s - 1`` and ``(j + 1/2) s``:
    their mean is the bilinear value there."""
    h, w = view.shape[0] // stride, view.shape[1] // stride
    c = stride // 2
    out = [view[i * stride + c - 1:i * stride + c + 1, j * stride + c - 1:j * stride + c + 1, :2]
           .mean(axis=(0, 1)) for i in range(h) for j in range(w)]
    return np.array(out)


def two_views(flip_key=True):
    img = coordinate_image()
    query = crop_view(img, CROP_Q, (SIZE, SIZE))
    key = crop_view(img, CROP_K, (SIZE, SIZE))
    if flip_key:
        key = BoxAwareRandomFlip(prob=1.)(key)
    return query, key


def match_views(query, key, key_matrix=None):
    key_matrix = key['view_matrix'] if key_matrix is None else key_matrix
    cells = (SIZE // STRIDE, SIZE // STRIDE)
    return geometric_match(torch.as_tensor(query['view_matrix'])[None],
                           torch.as_tensor(key_matrix)[None], cells, cells, (SIZE, SIZE),
                           STRIDE)[0].numpy()


def centre_distances(query, key, match):
    """For every matched pair, how far apart (in key cells) the two centres' image points are:
    the larger of |dx| / cell width and |dy| / cell height, cell sides measured in the image."""
    q_points, k_points = centre_coordinates(query['img']), centre_coordinates(key['img'])
    cell_in_image = np.array([CROP_K[2], CROP_K[3]]) * STRIDE / SIZE
    matched = np.flatnonzero(match != NO_MATCH)
    diff = np.abs(q_points[matched] - k_points[match[matched]]) / cell_in_image
    return diff.max(axis=1)


def test_matched_cells_show_the_same_image_point_within_half_a_cell():
    query, key = two_views(flip_key=True)
    assert key['flip']
    match = match_views(query, key)
    distances = centre_distances(query, key, match)
    share = (match != NO_MATCH).mean()
    print(f'largest centre distance {distances.max():.3f} key cells; '
          f'matched {share:.1%} of {match.size} query cells')
    assert 0.2 < share < 0.8 and distances.max() <= 0.5 + 1e-3

    # a query cell is matched exactly when its image point lies inside the key crop
    points = centre_coordinates(query['img'])
    x0, y0, w, h = CROP_K
    inside = ((points[:, 0] >= x0) & (points[:, 0] < x0 + w) & (points[:, 1] >= y0)
              & (points[:, 1] < y0 + h))
    np.testing.assert_array_equal(match != NO_MATCH, inside)
    assert match[0] == NO_MATCH          # the top-left cell lies outside the overlap


def test_matching_that_ignores_the_flip_misses_by_more_than_half_a_cell():
    query, key = two_views(flip_key=True)
    unflipped = crop_resize_matrix(CROP_K, (SIZE, SIZE))     # the key's matrix without its flip
    distances = centre_distances(query, key, match_views(query, key, unflipped))
    assert distances.max() > 1.


def test_geometric_views_record_where_each_pixel_came_from():
    """Random crops and flips: every view's matrix sends an image point to the view pixel that
    shows it (away from the view border, within an image pixel)."""
    with DefaultScope.overwrite_default_scope('mmselfsup'):
        views = GeometricMultiView(size=64, scale=(0.2, 1.0),
                                   transforms=[dict(type='BoxAwareRandomFlip', prob=0.5)])
    np.random.seed(0)
    flips = []
    for _ in range(6):
        results = views(dict(img=coordinate_image()))
        for view, matrix in zip(results['img'], results['view_matrices']):
            ys, xs = np.mgrid[4:60, 4:60]
            centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.ones(xs.size)])
            expected = (np.linalg.inv(matrix) @ centres)[:2].T            # image points
            shown = view[ys.ravel(), xs.ravel(), :2]
            np.testing.assert_allclose(shown, expected, atol=1.0)
        flips += results['view_flips']
    assert any(flips) and not all(flips)


# --------------------------------------------------------------------------- queue
def test_queue_replaces_the_oldest_keys_and_wraps_around():
    queue = FeatureQueue(dim=3, length=5)
    first = torch.eye(3)[[0, 1, 2]]
    queue.enqueue(first)
    torch.testing.assert_close(queue()[:, :3], first.t())
    assert int(queue.ptr) == 3
    second = -torch.eye(3)[[0, 1, 2]]
    queue.enqueue(second)                         # columns 3, 4, then 0
    torch.testing.assert_close(queue()[:, [3, 4, 0]], second.t())
    torch.testing.assert_close(queue()[:, 1:3], first[1:].t())  # not yet replaced
    assert int(queue.ptr) == 1


# --------------------------------------------------------------------------- the model
def tiny_model(**kwargs):
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'models', 'plmoco_r50_d16.py'))
    model = copy.deepcopy(cfg.model)
    model.backbone.depth = 18
    model.neck.update(in_channels=512, hid_channels=256)
    model.update(queue_len=64, cells_per_image=4, **kwargs)
    with DefaultScope.overwrite_default_scope('mmselfsup'):
        return MODELS.build(model)


def batch(crops_k=(CROP_K, CROP_K), n=2, size=64, seed=0):
    """Random pixels; view 0 of every image is CROP_Q, view 1 the given crop, flipped."""
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]
    samples = []
    for crop in crops_k:
        flip = np.array([[-1., 0, size], [0, 1, 0], [0, 0, 1]])
        matrices = np.stack([crop_resize_matrix(CROP_Q, (size, size)),
                             flip @ crop_resize_matrix(crop, (size, size))])
        sample = SelfSupDataSample()
        sample.set_metainfo(dict(view_matrices=matrices))
        samples.append(sample)
    return inputs, samples


def test_loss_is_finite_and_the_key_encoder_follows_with_momentum():
    torch.manual_seed(0)
    model = tiny_model(momentum=0.9)
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    assert torch.isfinite(losses['loss_patch']) and losses['loss_patch'] > 0
    assert 0 < losses['matched_share'] < 1 and losses['images_without_match'] == 0
    losses['loss_patch'].backward()
    online = dict(model.online_encoder().named_parameters())
    key = dict(model.encoder_k.module.named_parameters())
    for name, p in online.items():                   # step 0: the key encoder is a copy
        torch.testing.assert_close(key[name], p.detach())
    assert not any(p.requires_grad for p in key.values())

    before = {k: v.detach().clone() for k, v in key.items()}
    with torch.no_grad():
        for p in online.values():
            p.add_(0.5)
    model.loss(inputs, samples)                      # step 1: k <- 0.9 k + 0.1 q
    for name, p in online.items():
        torch.testing.assert_close(key[name], 0.9 * before[name] + 0.1 * p.detach())
    assert int(model.cell_queue.ptr) == 2 * 2 * 4 % 64   # 2 steps x 2 images x 4 cells


def test_views_without_overlap_give_a_counted_zero_loss_never_nan():
    model = tiny_model()
    far = (250, 190, 60, 50)                         # shares no pixel with CROP_Q
    inputs, samples = batch(crops_k=(far, far))
    losses = model.loss(inputs, samples)
    assert losses['loss_patch'].item() == 0 and losses['matched_share'] == 0
    assert losses['images_without_match'] == 2
    assert model.fallbacks['images_without_match'] == 2
    losses['loss_patch'].backward()                  # the graph holds: DDP sees every parameter


@pytest.mark.parametrize('options', [dict(matching='feature'),
                                     dict(global_weight=0.5, key_view_negatives=True)])
def test_options_give_finite_losses(options):
    model = tiny_model(**options)
    losses = model.loss(*batch())
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    if options.get('matching') == 'feature':
        assert losses['matched_share'] == 1            # every query cell has its argmax
    else:
        assert set(losses) >= {'loss_patch', 'loss_global'}


def test_an_output_stride_the_backbone_cannot_give_is_one_line():
    with pytest.raises(ValueError, match=r'out_stride=16 but model.backbone gives a map at '
                                         r'stride 32; ResNet at 16: strides=\(1, 2, 2, 1\)'):
        tiny_model(backbone=dict(type='ResNet', depth=18, out_indices=[4],
                                 strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1)))


def test_pledmoco_decoder_channels_must_feed_the_projector():
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'models',
                                   'pledmoco_r50-d16_fcn-d6.py')).model
    cfg.backbone.backbone.update(depth=18, norm_cfg=dict(type='BN'))
    cfg.backbone.decode_head.update(in_channels=512, channels=64, norm_cfg=dict(type='BN'))
    with DefaultScope.overwrite_default_scope('mmselfsup'), pytest.raises(
            ValueError, match=r'model.neck.in_channels=256 but the decoder outputs 64 channels'):
        MODELS.build(cfg)


# --------------------------------------------------------------------------- configs
PLMOCO_CONFIGS = sorted(f for f in os.listdir(DENSE_DIR) if f.startswith(('plmoco_', 'pledmoco_')))


def tiny_run(cfg, tmp_path, name):
    """The config's own model (ResNet-18 wide, a short queue), pipeline and optimizer; 2 coco128
    photos a batch, 64 px views, 2 iterations (no lr schedule), no start checkpoint."""
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline[1].size = 64
    cfg.model.cells_per_image = 4                      # 16 cells in a 64 px key view
    cfg.model.queue_len = 256
    if cfg.model.type == 'PatchEDMoCo':                # ResNet-18 at the config's stride
        cfg.model.backbone.backbone.update(depth=18, norm_cfg=dict(type='BN'))
        cfg.model.backbone.decode_head.update(in_channels=512, norm_cfg=dict(type='BN'))
        cfg.model.neck.hid_channels = 256
    else:
        cfg.model.backbone.depth = 18
        cfg.model.neck.update(in_channels=512, hid_channels=256)
    ann_file = tmp_path / 'list.txt'                   # 'photo.jpg' lines, as trainval0712.txt
    ann_file.write_text('\n'.join(sorted(os.listdir(COCO128))[:4]) + '\n')
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset = dict(type='ImageList', data_root=COCO128,
                                        ann_file=str(ann_file), data_prefix=dict(img_path=''),
                                        pipeline=pipeline)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
    cfg.param_scheduler = None
    cfg.load_from = None
    cfg.default_hooks.checkpoint = None
    cfg.work_dir = str(tmp_path / name)
    cfg.experiment_name = name
    cfg.visualizer.name = f'{name}-visualizer'
    cfg.log_level = 'WARNING'
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=0)
    return cfg


@needs_coco128
@pytest.mark.parametrize('config', PLMOCO_CONFIGS)
def test_config_trains_two_iterations_on_real_photos(config, tmp_path):
    cfg = tiny_run(Config.fromfile(osp.join(DENSE_DIR, config)), tmp_path, config)
    runner = Runner.from_cfg(cfg)
    seen = []
    runner.register_hook(_LossRecorder(seen))
    runner.train()
    assert len(seen) == 2 and all(np.isfinite(seen))
    # the encoder's lr: 1/100 of the base lr where the notes pretrain so (PLEDMoCo)
    model = runner.model
    lr_of = {id(p): g['lr'] for g in runner.optim_wrapper.optimizer.param_groups
             for p in g['params']}
    encoder = model.backbone.backbone if config.startswith('pledmoco') else model.backbone
    ratio = lr_of[id(encoder.conv1.weight)] / lr_of[id(model.neck.mlp2[0].weight)]
    one_in_100 = config == 'pledmoco_resnet50-d16-fcn-d6_8xb32-coslr-20e_voc0712-init.py'
    assert ratio == pytest.approx(0.01 if one_in_100 else 1)


class _LossRecorder(Hook):
    priority = 'LOWEST'

    def __init__(self, seen):
        self.seen = seen

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.seen.append(float(outputs['loss'].detach()))


@needs_coco128
def test_matching_picture_tool_writes_a_png(run_tool, tmp_path):
    out = tmp_path / 'matching.png'
    image = osp.join(COCO128, sorted(os.listdir(COCO128))[0])
    run_tool(osp.join(REPO, 'tools', 'visualize_patch_matching.py'), '--image', image,
             '--num-draws', '1', '--out', str(out))
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape[1] > 2 * 224


# --------------------------------------------------------------------------- starts and transfer
SEG_FCN_D6 = osp.join(REPO, 'configs', 'segmentation',
                      'fcn-d6_r50-d16_soco-100e_4xb4-linearlr-30k_voc12aug-513x513.py')
PLEDMOCO_VOC = osp.join(DENSE_DIR, 'pledmoco_resnet50-d16-fcn-d6_8xb32-coslr-20e_voc0712-init.py')


def test_pledmoco_decoder_transfer_loads_strictly_into_the_moco_fcn_segmenter():
    """The pretrained ResNet-50 D16 and MoCoFCN go tensor for tensor into the segmenter of the
    MoCoFCN config; only its 21-class classifier starts fresh."""
    model = build_soco_model(PLEDMOCO_VOC)
    with torch.no_grad():                    # weights the segmenter cannot have by chance
        for p in model.parameters():
            p.add_(torch.rand_like(p))
    state = model.state_dict()
    conv = convert_dense_state_dict(state)
    seg_cfg = Config.fromfile(SEG_FCN_D6)
    segmentor = build_segmentor(seg_cfg)
    check_decoder_against_segmentor(conv, seg_cfg, segmentor)
    missing, unexpected = segmentor.load_state_dict(conv.state_dict, strict=False)
    assert unexpected == [] and sorted(missing) == ['decode_head.conv_seg.bias',
                                                    'decode_head.conv_seg.weight']
    loaded = segmentor.state_dict()
    for src, dst in conv.mapped:
        assert torch.equal(loaded[dst], state[src]), dst
    assert conv.counts == (318, 12)
    left = {src.split('.')[0] for src, _ in conv.left_out}
    assert left == {'neck', 'encoder_k', 'cell_queue'}


def test_plmoco_backbone_loads_strictly_into_the_segmenter_backbone():
    """PLMoCo trains no decoder: its ``backbone.*`` is the segmenter's ResNet (what the config's
    ``init_cfg`` with ``prefix='backbone.'`` reads from the checkpoint)."""
    model = build_soco_model(osp.join(DENSE_DIR, 'plmoco_resnet50-d16_8xb32-coslr-2e_in1k-init.py'))
    backbone = {k[len('backbone.'):]: v for k, v in model.state_dict().items()
                if k.startswith('backbone.')}
    segmentor = build_segmentor(Config.fromfile(SEG_FCN_D6))
    segmentor.backbone.load_state_dict(backbone, strict=True)


def test_init_start_fills_backbone_and_key_encoder(tmp_path):
    """An existing ResNet (torchvision layout) as the start of PLMoCo: backbone and its key copy,
    the key encoder's counter at 0 (key = query at the first step), projector and queue fresh."""
    import torchvision
    src = tmp_path / 'resnet18.pth'
    torch.save(torchvision.models.resnet18().state_dict(), src)
    cfg = Config.fromfile(
        osp.join(DENSE_DIR, 'plmoco_resnet50-d16_8xb32-coslr-20e_voc0712-init.py'))
    cfg.model.backbone.depth = 18
    cfg.model.neck.update(in_channels=512, hid_channels=256)
    conv = convert_init_checkpoint(str(src), cfg)
    state = conv.state_dict
    assert int(state['encoder_k.steps']) == 0 and conv.new == ['neck', 'cell_queue']
    for key in [k for k in state if k.startswith('backbone.')]:
        assert torch.equal(state['encoder_k.module.0.' + key[len('backbone.'):]], state[key])
    model = build_soco_model(cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert unexpected == []
    assert {k.split('.')[0] for k in missing} == {'neck', 'cell_queue', 'encoder_k'}
    assert all(k.startswith(('encoder_k.module.1.', 'neck.', 'cell_queue.')) for k in missing)
