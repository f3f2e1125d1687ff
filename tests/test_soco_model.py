import math

import pytest
import torch
from mmengine.logging import MessageHub

import mmsoco  # noqa: F401
from mmsoco.models.algorithms import SoCo
from mmsoco.registry import MODELS
from mmsoco.testing import make_sample, model_cfg, random_batch


def build(cfg):
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.fixture(autouse=True)
def run_length():
    MessageHub.get_current_instance().update_info('max_iters', 100)


def test_scale_aware_assignment_on_hand_made_boxes():
    ext = MODELS.build(model_cfg('fpn').roi_extractor)
    sides = [10, 47.9, 48, 95.9, 96, 191, 192, 224, 400]
    rois = torch.tensor([[0, 5, 5, 5 + s, 5 + s] for s in sides])
    assert ext.map_roi_levels(rois, 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 3]
    # area decides, not the longer side: 40x160 has side 80 -> P3
    assert ext.map_roi_levels(torch.tensor([[0, 0, 0, 40, 160.]]), 4).tolist() == [1]

    fixed = MODELS.build(dict(model_cfg('fpn').roi_extractor, fixed_level=2))
    assert fixed.map_roi_levels(rois, 4).tolist() == [2] * len(sides)
    with pytest.raises(ValueError, match='scale_ranges'):
        MODELS.build(dict(model_cfg('fpn').roi_extractor, scale_ranges=[(0, 48)]))


def test_each_box_is_pooled_from_its_level_only():
    ext = MODELS.build(model_cfg('fpn').roi_extractor)
    feats = tuple(torch.randn(1, 256, 224 // s, 224 // s) for s in (4, 8, 16, 32))
    rois = torch.tensor([[0, 0, 0, 30, 30], [0, 10, 10, 110, 110], [0, 0, 0, 220, 220.]])
    pooled = ext(feats, rois)
    for i, level in enumerate([0, 2, 3]):
        expected = ext.roi_layers[level](feats[level], rois[i:i + 1])
        torch.testing.assert_close(pooled[i:i + 1], expected)
    every = ext.pool_all_levels(feats, rois)                     # (4*3) x C x 7 x 7
    assert every.shape == (12, 256, 7, 7)
    torch.testing.assert_close(every.view(4, 3, 256, 7, 7)[[0, 2, 3], [0, 1, 2]], pooled)


def test_pair_loss_equals_hand_computed_value():
    pred = torch.tensor([[1., 0.], [0., 2.], [1., 1.]])
    target = torch.tensor([[3., 0.], [1., 0.], [-1., -1.]])
    # cos: 1, 0, -1 (the third is padding and must not count)
    loss = SoCo.pair_loss(pred, target, torch.tensor([True, True, False]))
    assert loss.item() == pytest.approx(-2 * (1 + 0) / 2)
    loss = SoCo.pair_loss(pred, target, torch.tensor([True, True, True]))
    assert loss.item() == pytest.approx(-2 * (1 + 0 - 1) / 3, abs=1e-6)


def test_forward_backward_r50_fpn_and_target_gets_no_grad():
    model = build(model_cfg('fpn'))
    inputs, samples = random_batch(n=2, sizes=(160, 160, 80))
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_v1_v2', 'loss_v1_v3', 'loss_v2_v1', 'loss_v3_v1', 'momentum'}
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total) and -8.0 <= total.item() <= 8.0
    total.backward()
    for name in ('backbone', 'neck', 'head', 'projector', 'predictor'):
        grads = [p.grad for p in getattr(model, name).parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), name
    assert all(not p.requires_grad and p.grad is None for p in model.target_net.parameters())


def test_target_moves_by_the_ema_formula():
    cfg = model_cfg('fpn', tiny=True)
    model = build(cfg)
    ema = model.target_net
    ema.max_iters = 10
    inputs, samples = random_batch(n=2, sizes=(96, 96, 48))
    model.loss(inputs, samples)                       # step 0: target := online
    for p_t, p_o in zip(ema.module.parameters(), _online_params(model)):
        torch.testing.assert_close(p_t, p_o)
    before = [p.clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in _online_params(model):
            p.add_(torch.randn_like(p))
    losses = model.loss(inputs, samples)               # step 1
    m = 1 - (1 - 0.99) * (math.cos(math.pi * 1 / 10) + 1) / 2
    assert losses['momentum'].item() == pytest.approx(m)
    for p_t, old, p_o in zip(ema.module.parameters(), before, _online_params(model)):
        torch.testing.assert_close(p_t, m * old + (1 - m) * p_o)
    assert int(ema.steps) == 2
    assert ema.momentum_at(10) == pytest.approx(1.0)
    assert ema.momentum_at(0) == pytest.approx(0.99)


def _online_params(model):
    mods = [model.backbone, model.head, model.projector, model.neck]
    return [p for m in mods for p in m.parameters()]


def test_momentum_schedule_continues_from_a_loaded_state_dict():
    model = build(model_cfg('fpn', tiny=True))
    model.target_net.max_iters = 10
    inputs, samples = random_batch(n=2, sizes=(96, 96, 48))
    for _ in range(3):
        model.loss(inputs, samples)
    resumed = build(model_cfg('fpn', tiny=True))
    resumed.target_net.max_iters = 10
    resumed.load_state_dict(model.state_dict())
    assert int(resumed.target_net.steps) == 3
    assert resumed.loss(inputs, samples)['momentum'].item() == pytest.approx(
        model.target_net.momentum_at(3))


def test_single_level_pooling_matches_all_levels_strategy():
    model = build(model_cfg('fpn', tiny=True)).eval()     # eval: BN statistics are fixed
    inputs, _ = random_batch(n=2, sizes=(224, 224, 112))
    big = [[10, 10, 40, 40], [0, 50, 70, 120], [60, 20, 210, 170], [5, 5, 220, 215]]
    views = [big, [[c + 4 for c in b] for b in big[::-1]], [[c / 2 for c in b] for b in big]]
    samples = [make_sample(views), make_sample(views[::-1][:1] + views[1:])]
    rois, _ = SoCo.pack_rois(samples, 3)
    assert sorted(set(model.roi_extractor.map_roi_levels(rois[0], 4).tolist())) == [0, 1, 2, 3]
    net = dict(backbone=model.backbone, neck=model.neck, head=model.head,
               projector=model.projector)
    with torch.no_grad():
        single = model._box_embeddings(net, inputs[0], rois[0], model.predictor)
        single_loss = model.loss(inputs, samples)
        model.roi_pooling = 'all'
        every = model._box_embeddings(net, inputs[0], rois[0], model.predictor)
        every_loss = model.loss(inputs, samples)
    torch.testing.assert_close(single, every, rtol=1e-4, atol=1e-5)
    for key in single_loss:
        if key.startswith('loss'):
            torch.testing.assert_close(single_loss[key], every_loss[key], rtol=1e-4, atol=1e-5)


def test_padded_boxes_do_not_change_the_loss():
    model = build(model_cfg('fpn', tiny=True))
    model.eval()   # deterministic BN so two forwards are comparable
    inputs, samples = random_batch(n=1, sizes=(96, 96, 48), k=3)
    boxes = samples[0].view_bboxes
    padded = make_sample(torch.cat([boxes, boxes[:, :1]], 1), valid=[True] * 3 + [False])
    with torch.no_grad():
        a = model.loss(inputs, samples)
        b = model.loss(inputs, [padded])
    for key in a:
        if key.startswith('loss'):
            assert a[key].item() == pytest.approx(b[key].item(), rel=1e-4, abs=1e-5)


def test_mismatched_ids_are_rejected():
    inputs, samples = random_batch(n=1, sizes=(96, 96, 48))
    samples[0].proposal_ids[1] = samples[0].proposal_ids[1].flip(0)
    with pytest.raises(ValueError, match='proposal_ids differ'):
        SoCo.pack_rois(samples, 3)


def test_c4_variant_runs():
    model = build(model_cfg('c4'))
    inputs, samples = random_batch(n=2, sizes=(160, 160))
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_v1_v2', 'loss_v2_v1', 'momentum'}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.head.layer4[0].conv1.weight.grad is not None
    assert not hasattr(model.backbone, 'layer4')


def test_soco_star_four_views_run():
    cfg = model_cfg('fpn', tiny=True)
    cfg.view_pairs = [(0, 1), (0, 2), (0, 3)]
    model = build(cfg)
    inputs, samples = random_batch(n=2, sizes=(96, 96, 48, 80))
    losses = model.loss(inputs, samples)
    assert {'loss_v1_v4', 'loss_v4_v1'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()


def test_twenty_steps_on_two_real_images_drive_the_loss_down():
    import numpy as np
    from skimage import data
    from skimage.transform import resize
    torch.manual_seed(0)
    model = build(model_cfg('fpn', tiny=True))
    model.target_net.max_iters = 20
    imgs = [data.astronaut(), data.chelsea()]
    views = []
    for size in (64, 64, 32):
        views.append(torch.stack([
            torch.from_numpy(resize(im, (size, size), anti_aliasing=True).astype(np.float32))
            .permute(2, 0, 1) for im in imgs]) * 4 - 2)
    boxes = [[[6, 6, 40, 40], [20, 14, 60, 54], [0, 26, 34, 63], [26, 0, 63, 34]]]
    box_views = [boxes[0], boxes[0], [[c / 2 for c in b] for b in boxes[0]]]
    samples = [make_sample(box_views), make_sample(box_views)]
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = []
    for _ in range(20):
        losses = model.loss(views, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    first, last = sum(history[:3]) / 3, sum(history[-3:]) / 3
    assert last < first - 0.5, history


def test_sorted_single_pass_pooling_matches_mmdets_loop_and_gradients():
    from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
    ext = MODELS.build(model_cfg('fpn').roi_extractor)
    feats = tuple(torch.randn(2, 256, 128 // s, 128 // s, requires_grad=True)
                  for s in (4, 8, 16, 32))
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(40, 2, generator=g) * 60
    rois = torch.cat([torch.randint(0, 2, (40, 1), generator=g).float(), xy,
                      xy + torch.rand(40, 2, generator=g) * 220 + 4], 1)
    ours = ext(feats, rois)
    reference = SingleRoIExtractor.forward(ext, feats, rois)   # mmdet's per-level loop
    torch.testing.assert_close(ours, reference)
    grads = torch.autograd.grad(ours.square().sum(), feats)
    ref_grads = torch.autograd.grad(reference.square().sum(), feats)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b)
    # no box on P2-P4: still one tensor per RoI and every level in the graph
    big = torch.tensor([[0, 0, 0, 120, 120.]])
    out = ext(feats, big)
    assert out.shape == (1, 256, 7, 7)
    assert all(g is not None for g in torch.autograd.grad(out.sum(), feats))
