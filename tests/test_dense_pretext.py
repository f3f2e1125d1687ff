"""The dense pretext tasks: patch rotation (transform + PatchRotation), EDMoCo against mmselfsup's
MoCo, the encoder-decoder's keys against mmseg's segmentor, and the one-line refusals."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmselfsup.structures import SelfSupDataSample

from mmsoco.datasets.transforms import RandomPatchRotate
from mmsoco.datasets.transforms.patch_rotation import IGNORE_INDEX
from mmsoco.models.algorithms.patch_rotation import labels_at_output
from mmsoco.registry import MODELS
from transfer_utils import REPO

MODELS_DIR = f'{REPO}/configs/_base_/models'


def tiny_model_cfg(name, depth=18):
    """A dense pretext model config at test size: ResNet-18 (512 channels into the decoder),
    plain BN, a 256-entry queue."""
    cfg = Config.fromfile(f'{MODELS_DIR}/{name}').model
    ed = cfg.backbone
    ed.backbone.update(depth=depth, norm_cfg=dict(type='BN'))
    ed.decode_head.update(in_channels=512 if depth < 50 else 2048, norm_cfg=dict(type='BN'))
    if cfg.type == 'EDMoCo':
        cfg.queue_len = 256
    return cfg


# --------------------------------------------------------------------------- the transform
@pytest.mark.parametrize('grid', [1, 2, 4, 8])
@pytest.mark.parametrize('gap', [0, 4])
def test_rotating_each_patch_back_gives_the_input(grid, gap):
    crop = 64
    img = np.random.RandomState(grid).randint(0, 256, (80, 96, 3), dtype=np.uint8)
    np.random.seed(grid + gap)
    out = RandomPatchRotate(crop_size=crop, grid=grid, gap=gap, fill=0)(dict(img=img.copy()))
    x1, y1, x2, y2 = out['crop_bbox']
    src = img[y1:y2, x1:x2]
    p, half = crop // grid, gap // 2
    assert out['img'].shape == (crop, crop, 3) and out['patch_rot'].shape == (crop, crop)
    for i in range(grid):
        for j in range(grid):
            k = out['patch_rot_grid'][i, j]
            cell = np.s_[i * p + half:(i + 1) * p - half, j * p + half:(j + 1) * p - half]
            np.testing.assert_array_equal(np.rot90(out['img'][cell], -k), src[cell])
            assert (out['patch_rot'][cell] == k).all()
    labelled = out['patch_rot'] != IGNORE_INDEX
    assert labelled.sum() == grid * grid * (p - gap) ** 2
    assert (out['img'][~labelled] == 0).all()  # the gaps hold the fill value
    if grid >= 4:  # k is drawn for every patch: all four angles occur in 16+ patches (seeded)
        assert set(np.unique(out['patch_rot_grid'])) == {0, 1, 2, 3}


@pytest.mark.parametrize('grid', [1, 2, 4, 7])
@pytest.mark.parametrize('stride', [4, 8, 16])
def test_label_map_at_the_decoder_stride_follows_the_patch_layout(grid, stride):
    crop = 224
    np.random.seed(grid)
    img = np.zeros((crop, crop, 3), np.uint8)
    out = RandomPatchRotate(crop_size=crop, grid=grid)(dict(img=img))
    labels = torch.from_numpy(out['patch_rot']).long()[None]
    h = -(-crop // stride)
    at = labels_at_output(labels, (h, h))[0]
    p = crop // grid
    for a in range(h):
        for b in range(h):  # the patch that holds the cell's centre
            ci, cj = min((a * stride + stride // 2) // p, grid - 1), \
                min((b * stride + stride // 2) // p, grid - 1)
            assert at[a, b] == out['patch_rot_grid'][ci, cj], (a, b)


def test_patch_color_jitter_changes_patches_independently():
    img = np.random.RandomState(0).randint(0, 256, (64, 64, 3), dtype=np.uint8)
    np.random.seed(0)
    jitter = dict(type='FastColorJitter', brightness=0.8, contrast=0., saturation=0., hue=0.,
                  prob=1.)
    out = RandomPatchRotate(crop_size=64, grid=2, patch_color_jitter=jitter)(dict(img=img))
    ratios = []
    for i in range(2):
        for j in range(2):
            cell = np.s_[i * 32:(i + 1) * 32, j * 32:(j + 1) * 32]
            back = np.rot90(out['img'][cell], -out['patch_rot_grid'][i, j]).astype(float)
            ratios.append(back.mean() / img[cell].mean())
    assert len({round(r, 2) for r in ratios}) == 4  # one brightness factor per patch


def test_bad_grid_and_small_image_are_one_line():
    with pytest.raises(ValueError, match=r'grid=3 does not divide crop_size=224.*1, 2, 4, 7, 8'):
        RandomPatchRotate(crop_size=224, grid=3)
    with pytest.raises(ValueError, match='gap=6 must be even and below the patch side 4'):
        RandomPatchRotate(crop_size=32, grid=8, gap=6)
    with pytest.raises(ValueError, match=r'img\.jpg is 100x50, smaller than crop_size=64.*'
                       r'RandomResizedCrop\(size=64\)'):
        RandomPatchRotate(crop_size=64)(dict(img=np.zeros((50, 100, 3), np.uint8),
                                             img_path='img.jpg'))


# --------------------------------------------------------------------------- the models
def _samples(labels):
    out = []
    for lab in labels:
        ds = SelfSupDataSample()
        ds.pseudo_label = InstanceData(patch_rot=torch.as_tensor(lab))
        out.append(ds)
    return out


def test_patch_rotation_learns_the_angle_of_every_cell():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg('plr_r50-d16_fcn-d6.py'))
    assert model.backbone.stride == 16 and model.backbone.decode_head.conv_seg.out_channels == 4
    img = np.random.RandomState(0).randint(0, 256, (64, 64, 3), dtype=np.uint8)
    rot = RandomPatchRotate(crop_size=64, grid=2)
    batch = [rot(dict(img=img.copy())) for _ in range(2)]
    inputs = [torch.stack([torch.from_numpy(b['img']).permute(2, 0, 1).float() for b in batch])]
    samples = _samples([b['patch_rot'] for b in batch])
    optim = torch.optim.SGD(model.parameters(), lr=0.05)
    first = None
    for _ in range(5):
        losses = model.loss(inputs, samples)
        assert set(losses) == {'loss', 'acc'} and 0 <= float(losses['acc']) <= 1
        first = first if first is not None else float(losses['loss'].detach())
        optim.zero_grad()
        losses['loss'].backward()
        optim.step()
    assert float(losses['loss']) < first  # the same batch: the loss goes down
    # every cell supervised: a 4x4 output, each cell the angle of the patch it lies in
    assert model.extract_feat(inputs)[0].shape == (2, 4, 4, 4)


def _moco_keys(key):
    """EDMoCo key -> mmselfsup MoCo key when the decoder is an identity: the encoder-decoder's
    ``backbone.`` level goes."""
    for prefix in ('backbone.', 'encoder_k.module.0.'):
        if key.startswith(prefix + 'backbone.'):
            return prefix + key[len(prefix + 'backbone.'):]
    return key


def test_edmoco_with_identity_decoder_is_mmselfsup_moco():
    """The decoder an identity (FCNHead without convs, classifier dropped), EDMoCo is mmselfsup's
    MoCo v2 on the same weights and batch: same loss, queue, pointer and key encoder, twice."""
    torch.manual_seed(0)
    cfg = tiny_model_cfg('edmoco_r50-d16_fcn-d6.py')
    cfg.backbone.backbone.update(strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1))
    cfg.backbone.decode_head.update(channels=512, num_convs=0)
    cfg.neck.in_channels = 512
    ed = MODELS.build(cfg)
    import mmselfsup
    moco_cfg = Config.fromfile(osp.join(osp.dirname(mmselfsup.__file__), '.mim', 'configs',
                                        'selfsup/_base_/models/mocov2.py')).model
    moco_cfg.backbone.update(depth=18)
    moco_cfg.neck.in_channels = 512
    moco_cfg.queue_len = 256
    moco = MODELS.build(moco_cfg)
    state = {_moco_keys(k): v for k, v in ed.state_dict().items()}
    moco.load_state_dict(state, strict=True)  # same tensors, every key
    inputs = [torch.randn(4, 3, 64, 64), torch.randn(4, 3, 64, 64)]
    optims = [torch.optim.SGD(m.parameters(), lr=0.5) for m in (ed, moco)]
    for step in range(2):
        key_before = ed.encoder_k.module[0].backbone.conv1.weight.clone()
        query_before = ed.backbone.backbone.conv1.weight.clone()
        losses = []
        for model, optim in zip((ed, moco), optims):
            torch.manual_seed(step)  # the same key shuffle
            loss = model.loss(inputs, [SelfSupDataSample() for _ in range(4)])['loss']
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(loss)
        torch.testing.assert_close(losses[0], losses[1])
        ed_state = {_moco_keys(k): v for k, v in ed.state_dict().items()}
        for k, v in moco.state_dict().items():
            torch.testing.assert_close(ed_state[k], v, msg=k)
        assert int(ed.queue_ptr) == 4 * (step + 1)
        # key = query at step 0, then key <- 0.999 key + 0.001 query (before the query's step)
        key_now = ed.encoder_k.module[0].backbone.conv1.weight
        expected = query_before if step == 0 else 0.999 * key_before + 0.001 * query_before
        torch.testing.assert_close(key_now, expected)


@pytest.mark.parametrize('pretext, segmentation', [
    ('plr_r50-d16_fcn-d6.py', 'fcn-d6_r50-d16_soco-100e_4xb4-30k_voc12aug-513x513.py'),
    ('edmoco_r50-d8_psp.py', 'pspnet_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py'),
])
def test_encoder_decoder_has_the_segmenters_keys(pretext, segmentation):
    """The pretext encoder-decoder is the segmenter's backbone and decode head, key for key and
    shape for shape (the classifier aside: 4 angles or none, 21 classes)."""
    from mmsoco.converters.to_mmseg import build_segmentor
    ed = MODELS.build(Config.fromfile(f'{MODELS_DIR}/{pretext}').model.backbone)
    seg_cfg = Config.fromfile(f'{REPO}/configs/segmentation/{segmentation}')
    seg = build_segmentor(seg_cfg).state_dict()
    ours = {k: v.shape for k, v in ed.state_dict().items()}
    theirs = {k: v.shape for k, v in seg.items()
              if k.startswith(('backbone.', 'decode_head.')) and 'conv_seg' not in k}
    assert {k: v for k, v in ours.items() if 'conv_seg' not in k} == theirs
    assert len(theirs) == {'fcn-d6': 330, 'pspnet': 348}[segmentation.split('_')[0]]


def test_unknown_decode_head_is_one_line():
    cfg = tiny_model_cfg('plr_r50-d16_fcn-d6.py')
    cfg.backbone.decode_head.type = 'FooHead'
    with pytest.raises(ValueError, match=r"decode_head.type='FooHead' is not an MMSegmentation "
                       r'module; .*FCNHead, PSPHead, DepthwiseSeparableASPPHead, NLHead'):
        MODELS.build(cfg)
    cfg.backbone.decode_head.type = 'FCNHead'
    cfg.backbone.decode_head.num_classes = 21
    with pytest.raises(ValueError, match='decode_head.num_classes=4 \\(is 21\\)'):
        MODELS.build(cfg)


# --------------------------------------------------------------------------- the picture
@pytest.mark.parametrize('config, width', [
    ('plr_resnet50-d16-fcn-d6_8xb32-coslr-20e_voc0712-init.py', 4),  # patches, 2 maps, legend
    ('edmoco_resnet50-d16-fcn-d6_8xb32-coslr-20e_voc0712-init.py', 2),  # the two views
])
def test_visualize_pretext_draws_what_the_network_sees(config, width, run_tool, tmp_path, capsys):
    import cv2
    image = osp.join(osp.dirname(REPO), 'shared', 'datasets', 'coco128', 'images', 'train2017',
                     '000000000009.jpg')
    if not osp.isfile(image):
        pytest.skip(f'no {image}')
    out = tmp_path / 'seen.png'
    run_tool(f'{REPO}/tools/visualize_pretext.py', f'{REPO}/configs/dense/{config}',
             '--image', image, '--num-draws', '2', '--out', str(out))
    png = cv2.imread(str(out))
    assert png.shape[0] > 2 * 224 and png.shape[1] > width * 224 - 160
    assert 'seen.png' in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r'visualize_pretext: error: --image nope.jpg: no such'):
        run_tool(f'{REPO}/tools/visualize_pretext.py', f'{REPO}/configs/dense/{config}',
                 '--image', 'nope.jpg')
