"""``SoCo(roi_pooling='original')`` against an independent re-implementation of the original.

The reference below follows the original SoCo code's forward as issue 12 describes it, written
with plain torch / torchvision ops: torchvision's ``roi_align`` (not mmcv's), its own level
assignment with inclusive upper bounds, functional head / projector / predictor on weights
copied out of the mmsoco model, batch norm in train mode with its own running statistics, an
explicit loop over levels (each level its own BN batch), V1 embedded once per pair, the momentum
update written out, and the per-image loss average.  Only the backbone and FPN are the model's
modules (deep copies): they are not what the modes differ in.
"""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmselfsup.structures import SelfSupDataSample
from torchvision.ops import roi_align

import mmsoco  # noqa: F401
from mmsoco.models.algorithms import SoCo
from mmsoco.registry import MODELS
from mmsoco.testing import make_sample, model_cfg

STRIDES = (4, 8, 16, 32)
BN_EPS, BN_MOMENTUM = 1e-5, 0.1


@pytest.fixture(autouse=True)
def run_length():
    MessageHub.get_current_instance().update_info('max_iters', 10)


def real_views(sizes=(224, 224, 112)):
    """Three photos from scikit-image, normalised, at each view size: list of (3, 3, S, S)."""
    from skimage import data
    from skimage.transform import resize
    photos = [data.astronaut(), data.chelsea(), data.coffee()]
    views = []
    for size in sizes:
        views.append(torch.stack([
            torch.from_numpy(resize(p, (size, size), anti_aliasing=True).astype(np.float32))
            .permute(2, 0, 1) for p in photos]) * 4 - 2)
    return views


# Boxes per image in V1 (224 px); V2 shifts them, V3 = V2 at half size.  Sides 30 / 48 (P2, on
# the inclusive bound), 70 / 96 (P3), 150 (P4), 210 (P5).  Image 1 has two proposals padded to
# K=4 by repetition, image 2 a single one: different numbers of valid boxes per image.
V1_BOXES = [
    [[10, 10, 40, 40], [100, 20, 148, 68], [60, 100, 130, 170], [5, 5, 215, 215]],
    [[20, 30, 116, 126], [40, 40, 190, 190], [20, 30, 116, 126], [40, 40, 190, 190]],
    [[50, 60, 80, 90], [50, 60, 80, 90], [50, 60, 80, 90], [50, 60, 80, 90]],
]
VALID = [[True] * 4, [True, True, False, False], [True, False, False, False]]


def samples():
    out = []
    for boxes, valid in zip(V1_BOXES, VALID):
        v2 = [[min(c + 6, 224) for c in b] for b in boxes]
        v3 = [[c / 2 for c in b] for b in v2]
        out.append(make_sample([boxes, v2, v3], valid=valid))
    return out


# ---------------------------------------------------------------------- the reference
def ref_levels(rois):
    side = ((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2])).sqrt()
    level = torch.zeros(len(rois), dtype=torch.long)
    for bound in (48., 96., 192.):               # side <= bound stays, above moves up
        level += (side > bound).long()
    return level


def ref_bn(x, p, prefix, stats):
    """Train-mode batch norm with the weights of ``prefix`` and running stats in ``stats``."""
    return F.batch_norm(x, stats[prefix + 'running_mean'], stats[prefix + 'running_var'],
                        p[prefix + 'weight'], p[prefix + 'bias'], training=True,
                        momentum=BN_MOMENTUM, eps=BN_EPS)


def ref_head(x, p, stats):
    for i in range(4):                             # 4 x (conv3x3, BN, ReLU)
        x = F.conv2d(x, p[f'head.shared_convs.{i}.conv.weight'], padding=1)
        x = F.relu(ref_bn(x, p, f'head.shared_convs.{i}.bn.', stats))
    return F.relu(F.linear(x.flatten(1), p['head.shared_fcs.0.weight'],
                           p['head.shared_fcs.0.bias']))


def ref_mlp(x, p, name, stats):
    x = F.linear(x, p[f'{name}.fc1.weight'], p[f'{name}.fc1.bias'])
    x = F.relu(ref_bn(x, p, f'{name}.bn.', stats))
    return F.linear(x, p[f'{name}.fc2.weight'], p[f'{name}.fc2.bias'])


def ref_boxes(fpn, rois, p, stats, online):
    """Per level: pool all boxes, head -> projector (-> predictor) as one batch; keep own level."""
    per_level = []
    for level, stride in enumerate(STRIDES):
        pooled = roi_align(fpn[level], rois, output_size=7, spatial_scale=1. / stride,
                           sampling_ratio=-1, aligned=True)
        z = ref_mlp(ref_head(pooled, p, stats), p, 'projector', stats)
        per_level.append(ref_mlp(z, p, 'predictor', stats) if online else z)
    levels = ref_levels(rois)
    return torch.stack([per_level[lv][i] for i, lv in enumerate(levels.tolist())])


def ref_forward(views, rois, backbone, neck, p, stats, online, v1_rois_13=None):
    """Embeddings keyed like the original: V1 for V2, V1 for V3, V2, V3.  ``v1_rois_13``: V1's
    boxes of the pair V1-V3 when they are not those of V1-V2 (the released recipes)."""
    out = {}
    fpn1 = neck(backbone(views[0]))
    out['1_12'] = ref_boxes(fpn1, rois[0], p, stats, online)
    out['1_13'] = ref_boxes(fpn1, rois[0] if v1_rois_13 is None else v1_rois_13, p, stats,
                            online)
    out['2'] = ref_boxes(neck(backbone(views[1])), rois[1], p, stats, online)
    out['3'] = ref_boxes(neck(backbone(views[2])), rois[2], p, stats, online)
    return out


def ref_pair_loss(q, z, valid):
    n, k = valid.shape
    sim = (F.normalize(q, dim=1) * F.normalize(z.detach(), dim=1)).sum(1).view(n, k)
    per_image = (sim * valid).sum(1) / valid.sum(1)          # every image has a valid box here
    return -2 * per_image.mean()


# ---------------------------------------------------------------------- the test
def test_original_mode_equals_independent_reference_in_train_mode():
    torch.manual_seed(0)
    cfg = model_cfg('fpn', tiny=True)
    cfg.roi_pooling = 'original'
    cfg.loss_reduction = 'image'
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    ema = model.target_net
    # a target that is not the online network: step 3 of 10, perturbed weights
    ema.steps.fill_(3)
    with torch.no_grad():
        for t in ema.module.parameters():
            t.add_(torch.randn_like(t) * 0.05)

    views = real_views()
    batch = samples()
    rois = [torch.cat([torch.arange(3.).repeat_interleave(4)[:, None],
                       torch.tensor([s.view_bboxes[v].tolist() for s in batch]).view(12, 4)], 1)
            for v in range(3)]
    valid = torch.tensor(VALID, dtype=torch.float32)
    # the boxes reach every level in V1 and V2, and the bounds are met exactly (side 48, 96)
    assert sorted(set(ref_levels(rois[0]).tolist())) == [0, 1, 2, 3]
    assert sorted(set(ref_levels(rois[1]).tolist())) == [0, 1, 2, 3]
    assert model.roi_extractor.map_roi_levels(rois[0], 4).tolist() == \
        ref_levels(rois[0]).tolist()

    # ----- reference state, copied before mmsoco runs
    heads = ('head.', 'projector.', 'predictor.')
    online_sd = {k: v.clone() for k, v in model.state_dict().items()
                 if k.startswith(heads)}
    target_sd = {k[len('target_net.module.'):]: v.clone()
                 for k, v in model.state_dict().items() if k.startswith('target_net.module.')}
    online_p = {k: v.requires_grad_() for k, v in online_sd.items()
                if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))}
    stats = ('running_mean', 'running_var')
    online_stats = {k: v for k, v in online_sd.items() if k.endswith(stats)}
    ref_backbone, ref_neck = copy.deepcopy(model.backbone), copy.deepcopy(model.neck)
    tgt_backbone = copy.deepcopy(ema.module['backbone'])
    tgt_neck = copy.deepcopy(ema.module['neck'])
    # momentum step 3 of 10, written out: m = 1 - (1 - 0.99) (cos(pi k / K) + 1) / 2
    m = 1 - (1 - 0.99) * (math.cos(math.pi * 3 / 10) + 1) / 2
    online_all = dict(model.named_parameters())
    with torch.no_grad():
        for name, mod in (('backbone', tgt_backbone), ('neck', tgt_neck)):
            for k, t in mod.named_parameters():
                t.mul_(m).add_(online_all[f'{name}.{k}'], alpha=1 - m)
        target_p = {}
        for k, t in target_sd.items():
            if k.startswith(heads) and not k.endswith(
                    ('running_mean', 'running_var', 'num_batches_tracked')):
                target_p[k] = m * t + (1 - m) * online_all[k]
    target_stats = {k: v for k, v in target_sd.items() if k.startswith(heads) and k.endswith(stats)}

    # ----- mmsoco
    losses = model.loss(views, batch)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    assert losses['momentum'].item() == pytest.approx(m)

    # ----- reference
    q = ref_forward(views, rois, ref_backbone, ref_neck, online_p, online_stats, online=True)
    with torch.no_grad():
        z = ref_forward(views, rois, tgt_backbone, tgt_neck, target_p, target_stats,
                        online=False)
    expected = {
        'loss_v1_v2': ref_pair_loss(q['1_12'], z['2'], valid),
        'loss_v2_v1': ref_pair_loss(q['2'], z['1_12'], valid),
        'loss_v1_v3': ref_pair_loss(q['1_13'], z['3'], valid),
        'loss_v3_v1': ref_pair_loss(q['3'], z['1_13'], valid),
    }
    ref_total = sum(expected.values())
    ref_total.backward()

    for key, value in expected.items():
        torch.testing.assert_close(losses[key], value, rtol=1e-5, atol=1e-6, msg=key)

    # gradients of every online parameter
    largest = max(p.grad.abs().max().item() for k, p in model.named_parameters()
                  if p.grad is not None)
    for k, param in model.named_parameters():
        if k.startswith('target_net.'):
            continue
        if k.startswith(('backbone.', 'neck.')):
            mod = ref_backbone if k.startswith('backbone.') else ref_neck
            ref_grad = dict(mod.named_parameters())[k.split('.', 1)[1]].grad
        else:
            ref_grad = online_p[k].grad
        assert param.grad is not None and ref_grad is not None, k
        # a bias right before a batch norm has a zero gradient up to rounding: compare on the
        # scale of the largest gradient, not on its own
        scale = max(ref_grad.abs().max().item(), 1e-3 * largest)
        torch.testing.assert_close(param.grad / scale, ref_grad / scale, rtol=0, atol=5e-5,
                                   msg=k)

    # running statistics: per-level batches and V1 twice, online and target, in the same order
    state = model.state_dict()
    for k, v in online_stats.items():
        torch.testing.assert_close(state[k], v, rtol=1e-4, atol=1e-5, msg=k)
    for k, v in target_stats.items():
        torch.testing.assert_close(state['target_net.module.' + k], v, rtol=1e-4, atol=1e-5,
                                   msg=k)
    # the target's BN buffers moved through its own forward, not by copying the online ones
    key = 'head.shared_convs.0.bn.running_mean'
    assert not torch.allclose(state['target_net.module.' + key], state[key])


def test_single_and_original_differ_in_train_mode_and_agree_in_eval_mode():
    torch.manual_seed(0)
    cfg = model_cfg('fpn', tiny=True)
    single = MODELS.build(cfg)
    single.init_weights()
    original = MODELS.build(dict(cfg, roi_pooling='original'))
    original.load_state_dict(single.state_dict())
    views, batch = real_views(), samples()

    def total(model):
        with torch.no_grad():
            model.target_net.steps.fill_(0)
            out = model.loss(views, batch)
        return sum(v for k, v in out.items() if k.startswith('loss')).item()

    single.eval(), original.eval()             # BN on running statistics: the same function
    assert total(single) == pytest.approx(total(original), rel=1e-4, abs=1e-5)
    single.train(), original.train()           # BN on batch statistics: other batches
    assert abs(total(single) - total(original)) > 1e-3


def test_original_mode_rejects_unknown_names():
    cfg = model_cfg('fpn', tiny=True)
    with pytest.raises(ValueError, match="roi_pooling must be 'single' or 'original'"):
        MODELS.build(dict(cfg, roi_pooling='all'))
    with pytest.raises(ValueError, match="loss_reduction must be 'image' or 'box'"):
        MODELS.build(dict(cfg, loss_reduction='mean'))


def test_single_mode_embeds_a_view_once_and_original_once_per_pair():
    """V1 belongs to two pairs: 'original' runs its boxes through the head twice per level."""
    cfg = model_cfg('fpn', tiny=True)
    calls = {}
    for mode in ('single', 'original'):
        model = MODELS.build(dict(cfg, roi_pooling=mode))
        model.init_weights()
        sizes = []
        hook = model.head.register_forward_hook(lambda m, i, o: sizes.append(i[0].shape[0]))
        model.loss(real_views(), samples())
        hook.remove()
        calls[mode] = sizes
    assert calls['single'] == [12, 12, 12]                  # V1, V2, V3: one batch each
    assert calls['original'] == [12] * 4 * 4                # (V1 x 2 pairs, V2, V3) x 4 levels
    assert SoCo.pack_rois(samples(), 3)[1][:, 0].tolist() == VALID


# ---------------------------------------------------------------------- one V1 box set per pair
# The released recipes give V1 other boxes for V1-V3 than for V1-V2, and each pair its own
# padding: V1-V3's V1 boxes are those of V1-V2 moved and resized (other levels for some).
V1_BOXES_13 = [[[c + 8 for c in b[:2]] + [min(c + 40, 224) for c in b[2:]] for b in boxes]
               for boxes in V1_BOXES]
VALID_13 = [[True, True, True, False], [True] * 4, [True, True, False, False]]


def pair_samples():
    """Samples with one box set per (view, pair), V1 twice, as SoCoOriginalViews packs them."""
    out = []
    for s, boxes13, valid13 in zip(samples(), V1_BOXES_13, VALID_13):
        sample = SelfSupDataSample()
        v1, v2, v3 = s.view_bboxes
        sample.set_field(torch.stack([v1, v2, torch.tensor(boxes13, dtype=torch.float32), v3]),
                         'view_bboxes')
        sample.set_field(torch.arange(4).repeat(4, 1), 'proposal_ids')
        valid12, valid13 = s.proposal_valid[0], torch.tensor(valid13)
        sample.set_field(torch.stack([valid12, valid12, valid13, valid13]), 'proposal_valid')
        sample.set_metainfo(dict(box_sets=[(0, (0, 1)), (1, (0, 1)), (0, (0, 2)), (2, (0, 2))]))
        out.append(sample)
    return out


def batch_rois(boxes):
    return torch.cat([torch.arange(3.).repeat_interleave(4)[:, None],
                      torch.tensor(boxes, dtype=torch.float32).view(12, 4)], 1)


def test_original_mode_embeds_v1_with_each_pairs_own_boxes():
    torch.manual_seed(0)
    cfg = model_cfg('fpn', tiny=True)
    model = MODELS.build(dict(cfg, roi_pooling='original'))
    model.init_weights()
    model.train()
    model.target_net.steps.fill_(0)
    online_sd = {k: v.clone() for k, v in model.state_dict().items()}
    views, batch = real_views(), pair_samples()
    rois = [batch_rois(V1_BOXES)] + [
        batch_rois([s.view_bboxes[v].tolist() for s in samples()]) for v in (1, 2)]
    rois13 = batch_rois(V1_BOXES_13)
    # V1-V3's own V1 boxes reach other levels than V1-V2's
    assert ref_levels(rois13).tolist() != ref_levels(rois[0]).tolist()

    with torch.no_grad():
        losses = model.loss(views, batch)

    # reference: the target is the online network at step 0 (momentum 0.99 of equal weights)
    heads = ('head.', 'projector.', 'predictor.')
    params = {k: v for k, v in online_sd.items() if k.startswith(heads)}

    def reference(v1_rois_13):
        stats = {k: v.clone() for k, v in params.items()
                 if k.endswith(('running_mean', 'running_var'))}
        backbone, neck = copy.deepcopy(model.backbone), copy.deepcopy(model.neck)
        backbone.load_state_dict({k[9:]: v for k, v in online_sd.items()
                                  if k.startswith('backbone.')})
        neck.load_state_dict({k[5:]: v for k, v in online_sd.items() if k.startswith('neck.')})
        with torch.no_grad():
            q = ref_forward(views, rois, backbone, neck, params, stats, True, v1_rois_13)
            z = ref_forward(views, rois, backbone, neck, params, stats, False, v1_rois_13)
        valid12 = torch.tensor(VALID, dtype=torch.float32)
        valid13 = torch.tensor(VALID_13, dtype=torch.float32)
        return {'loss_v1_v2': ref_pair_loss(q['1_12'], z['2'], valid12),
                'loss_v2_v1': ref_pair_loss(q['2'], z['1_12'], valid12),
                'loss_v1_v3': ref_pair_loss(q['1_13'], z['3'], valid13),
                'loss_v3_v1': ref_pair_loss(q['3'], z['1_13'], valid13)}

    expected = reference(rois13)
    for key, value in expected.items():
        torch.testing.assert_close(losses[key], value, rtol=1e-5, atol=1e-5, msg=key)
    # V1-V2's V1 boxes for both pairs would give other V1-V3 losses
    shared = reference(None)
    assert abs(shared['loss_v1_v3'] - losses['loss_v1_v3']) > 1e-3


def test_single_mode_refuses_one_v1_box_set_per_pair_in_one_line():
    cfg = model_cfg('fpn', tiny=True)
    model = MODELS.build(cfg)                    # roi_pooling='single'
    with pytest.raises(ValueError) as err:
        model.loss(real_views(), pair_samples())
    assert len(str(err.value).splitlines()) == 1
    assert "set model.roi_pooling='original'" in str(err.value)
    # and the pairs of the model must be among the data's
    with pytest.raises(ValueError, match=r'view pairs \[\(0, 1\), \(0, 2\)\] but the model'):
        MODELS.build(dict(cfg, roi_pooling='original', view_pairs=[(0, 1), (1, 2)])).loss(
            real_views(), pair_samples())
