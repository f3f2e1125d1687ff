"""RoIAlign through torchvision (``roi_layer=dict(..., use_torchvision=True)``) gives mmcv's
features on the CPU, for the shipped geometry (aligned=True, sampling_ratio=0) and others; SoCo
trains to the same losses and weights with it; and ``fp32_pooling=False`` pools fp16 levels in
fp16 close to the fp32 round trip (bf16 levels stay on the round trip: no kernel has bf16)."""
import pytest
import torch
import torch.nn.functional as F
from mmcv.ops import RoIAlign
from step_utils import assert_same_weights, tiny_soco, two_steps

from mmsoco.registry import MODELS
from mmsoco.testing import model_cfg

#: float32 features: the two kernels compute the same bilinear samples in another order
FEATURE_ATOL = 1e-5
#: fp16 pooling against the fp32 round trip of the same fp16 maps and fp16-rounded boxes
FP16_ATOL = 5e-2


def _rois(n_images=2, n=40, side=224, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * side * 0.8
    wh = torch.rand(n, 2, generator=g) * side * 0.6 + 0.5      # some boxes under a cell
    idx = torch.randint(0, n_images, (n, 1), generator=g).float()
    return torch.cat([idx, xy, (xy + wh).clamp(max=side)], 1)


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
@pytest.mark.parametrize('stride', [4, 16])
def test_torchvision_roi_align_gives_mmcv_features(aligned, sampling_ratio, stride):
    feats = torch.randn(2, 8, 224 // stride, 224 // stride, generator=torch.Generator()
                        .manual_seed(stride))
    rois = _rois()
    layers = [RoIAlign(7, 1 / stride, sampling_ratio, aligned=aligned, use_torchvision=tv)
              for tv in (False, True)]
    mmcv_out, tv_out = (layer(feats, rois) for layer in layers)
    torch.testing.assert_close(tv_out, mmcv_out, rtol=0, atol=FEATURE_ATOL)


def _extractor(**kwargs):
    cfg = model_cfg('fpn', tiny=True).roi_extractor
    cfg.update(kwargs.pop('extractor', {}))
    cfg.roi_layer.update(kwargs)
    return MODELS.build(cfg)


def test_extractor_with_torchvision_pools_the_same_features():
    g = torch.Generator().manual_seed(0)
    feats = tuple(torch.randn(2, 64, 224 // s, 224 // s, generator=g) for s in (4, 8, 16, 32))
    rois = _rois()
    default, tv = _extractor(), _extractor(use_torchvision=True)
    torch.testing.assert_close(tv(feats, rois), default(feats, rois), rtol=0, atol=FEATURE_ATOL)
    for a, b in zip(tv.pool_all_levels(feats, rois), default.pool_all_levels(feats, rois)):
        torch.testing.assert_close(a, b, rtol=0, atol=FEATURE_ATOL)


def test_two_soco_steps_with_torchvision_roi_align():
    reference = tiny_soco()
    tv = tiny_soco(roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0,
                                  aligned=True, use_torchvision=True))
    losses = two_steps(reference)       # float64 (tiny_soco)
    assert two_steps(tv) == pytest.approx(losses, rel=1e-5)
    assert_same_weights(tv, reference, rtol=1e-5, atol=1e-6)


def test_fp16_pooling_without_the_fp32_round_trip():
    # smooth maps, as feature maps are (fp16's sample positions are rounded too: on random
    # per-pixel maps, 1/32 of a cell moves a feature by up to ~0.1)
    g = torch.Generator().manual_seed(0)
    feats = tuple(F.interpolate(torch.randn(2, 64, 56 // s, 56 // s, generator=g),
                                size=224 // s, mode='bilinear').half() for s in (4, 8, 16, 32))
    rois = _rois()
    round_trip = _extractor(use_torchvision=True)
    direct = _extractor(use_torchvision=True, extractor=dict(fp32_pooling=False))
    with torch.autocast('cpu', dtype=torch.float16):
        out = direct(feats, rois)
    assert out.dtype == torch.float16
    # fp16 keeps 11 significant bits of the samples; the box corners are rounded to fp16 too
    # (to 1/8 px at 128-256 px)
    torch.testing.assert_close(out.float(), round_trip(feats, rois.half().float()), rtol=0,
                               atol=FP16_ATOL)
    # bf16 levels: no kernel has bf16, they are pooled in fp32 with either setting
    bf16 = tuple(f.bfloat16() for f in feats)
    torch.testing.assert_close(direct(bf16, rois), round_trip(bf16, rois), rtol=0, atol=0)
