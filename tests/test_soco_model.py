import math
import os.path as osp

import pytest
import torch
from mmengine.logging import MessageHub

import mmsoco  # noqa: F401
from mmsoco.models.algorithms import SoCo
from mmsoco.registry import MODELS
from mmsoco.testing import REPO, make_sample, model_cfg, random_batch


def build(cfg):
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.fixture(autouse=True)
def run_length():
    MessageHub.get_current_instance().update_info('max_iters', 100)


def test_scale_aware_assignment_on_hand_made_boxes():
    ext = MODELS.build(model_cfg('fpn').roi_extractor)
    assert ext.level_bounds == [48., 96., 192.]
    # upper bounds are inclusive, as in the original code: 48 -> P2, 48.0001 -> P3, ...
    sides = [10, 47.9, 48, 48.0001, 95.9, 96, 96.0001, 191, 192, 192.0001, 224, 400]
    rois = torch.tensor([[0, 0, 0, s, s] for s in sides])
    assert ext.map_roi_levels(rois, 4).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    # area decides, not the longer side: 40x160 has side 80 -> P3; 24x96 has side 48 -> P2
    assert ext.map_roi_levels(torch.tensor([[0, 0, 0, 40, 160.], [0, 10, 10, 34, 106]]),
                              4).tolist() == [1, 0]

    fixed = MODELS.build(dict(model_cfg('fpn').roi_extractor, fixed_level=2))
    assert fixed.map_roi_levels(rois, 4).tolist() == [2] * len(sides)


@pytest.mark.parametrize('bounds, message', [
    ((48, 96), '2 level_bounds for 4 levels'),
    ((48, 96, 192, 400), '4 level_bounds for 4 levels'),
    ((48, 192, 96), 'strictly increasing'),
    ((48, 48, 192), 'strictly increasing'),
    ((0, 96, 192), 'positive'),
])
def test_level_bounds_are_validated(bounds, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(dict(model_cfg('fpn').roi_extractor, level_bounds=bounds))


def test_model_config_survives_dump_and_reload(tmp_path):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/soco_r50_fpn.py'))
    assert 'inf' not in cfg.pretty_text
    cfg.dump(str(tmp_path / 'model.py'))
    again = Config.fromfile(str(tmp_path / 'model.py'))
    assert tuple(again.model.roi_extractor.level_bounds) == (48, 96, 192)
    assert again.model.roi_pooling == 'single' and again.model.loss_reduction == 'image'


def test_each_box_is_pooled_from_its_level_only():
    ext = MODELS.build(model_cfg('fpn').roi_extractor)
    feats = tuple(torch.randn(1, 256, 224 // s, 224 // s) for s in (4, 8, 16, 32))
    rois = torch.tensor([[0, 0, 0, 30, 30], [0, 10, 10, 110, 110], [0, 0, 0, 220, 220.]])
    pooled = ext(feats, rois)
    for i, level in enumerate([0, 2, 3]):
        expected = ext.roi_layers[level](feats[level], rois[i:i + 1])
        torch.testing.assert_close(pooled[i:i + 1], expected)
    every = ext.pool_all_levels(feats, rois)                     # 4 x (3 x C x 7 x 7)
    assert len(every) == 4 and all(p.shape == (3, 256, 7, 7) for p in every)
    torch.testing.assert_close(torch.stack(every)[[0, 2, 3], [0, 1, 2]], pooled)


def test_pair_loss_equals_hand_computed_value():
    # two images, K=3: image 0 has two valid boxes (cos 1 and 0), image 1 one (cos -1);
    # the third box of each is padding (cos 1 and 0) and must not count
    pred = torch.tensor([[1., 0.], [0., 2.], [1., 1.], [1., 1.], [2., 0.], [0., 1.]])
    target = torch.tensor([[3., 0.], [1., 0.], [1., 1.], [-1., -1.], [5., 0.], [1., 0.]])
    valid = torch.tensor([[True, True, False], [True, False, False]])
    # per image: image 0 -> (1 + 0) / 2, image 1 -> -1 / 1; then their mean
    loss = SoCo.pair_loss(pred, target, valid, 'image')
    assert loss.item() == pytest.approx(-2 * ((1 + 0) / 2 + (-1) / 1) / 2)
    # per box: three valid boxes weigh the same
    loss = SoCo.pair_loss(pred, target, valid, 'box')
    assert loss.item() == pytest.approx(-2 * (1 + 0 - 1) / 3, abs=1e-6)
    # an image without a valid box is left out of the image mean, not counted as zero
    none = torch.tensor([[True, True, False], [False, False, False]])
    assert SoCo.pair_loss(pred, target, none, 'image').item() == pytest.approx(-2 * 0.5)
    nothing = torch.zeros(2, 3, dtype=torch.bool)
    assert SoCo.pair_loss(pred, target, nothing, 'image').item() == 0.
    with pytest.raises(ValueError, match='reduction'):
        SoCo.pair_loss(pred, target, valid, 'mean')


def test_loss_reduction_image_is_the_model_default_and_box_is_an_option():
    cfg = model_cfg('fpn', tiny=True)
    cfg.pop('loss_reduction')
    model = build(cfg).eval()                      # eval: both runs see the same BN
    assert model.loss_reduction == 'image'
    inputs, samples = random_batch(n=2, sizes=(96, 96, 48))
    samples[1].proposal_valid[:, 1:] = False       # image 0: 4 valid boxes, image 1: 1
    q = {}
    hooks = [model.predictor.register_forward_hook(
        lambda m, i, o: q.setdefault('q', []).append(o)),
        model.target_net.module['projector'].register_forward_hook(
            lambda m, i, o: q.setdefault('z', []).append(o))]
    with torch.no_grad():
        per_image = model.loss(inputs, samples)['loss_v1_v2']
        model.loss_reduction = 'box'
        per_box = model.loss(inputs, samples)['loss_v1_v2']
    for h in hooks:
        h.remove()
    cos = torch.nn.functional.cosine_similarity(q['q'][0], q['z'][1], dim=1)    # V1 vs V2
    by_hand_image = -2 * (cos[:4].mean() + cos[4]) / 2
    by_hand_box = -2 * (cos[:4].sum() + cos[4]) / 5
    assert per_image.item() == pytest.approx(by_hand_image.item(), abs=1e-5)
    assert per_box.item() == pytest.approx(by_hand_box.item(), abs=1e-5)
    assert abs(per_image.item() - per_box.item()) > 1e-4


def test_forward_backward_r50_fpn_and_target_gets_no_grad():
    model = build(model_cfg('fpn'))
    inputs, samples = random_batch(n=2, sizes=(160, 160, 80))
    seen = {'q': [], 'z': []}
    hooks = [model.predictor.register_forward_hook(lambda m, i, o: seen['q'].append(o)),
             model.target_net.module['projector'].register_forward_hook(
                 lambda m, i, o: seen['z'].append(o))]
    losses = model.loss(inputs, samples)
    for h in hooks:
        h.remove()
    assert set(losses) == {'loss_v1_v2', 'loss_v1_v3', 'loss_v2_v1', 'loss_v3_v1', 'momentum'}
    # each loss is -2 cos of the right online prediction and target projection, per image
    q, z = seen['q'], seen['z']                        # V1, V2, V3 each, (N*K) x 256
    assert [t.shape for t in q + z] == [(8, 256)] * 6
    for (a, b), key in [((0, 1), 'loss_v1_v2'), ((1, 0), 'loss_v2_v1'),
                        ((0, 2), 'loss_v1_v3'), ((2, 0), 'loss_v3_v1')]:
        cos = torch.nn.functional.cosine_similarity(q[a], z[b], dim=1).view(2, 4)
        assert losses[key].item() == pytest.approx(-2 * cos.mean().item(), abs=1e-5), key
    # online and target embeddings are not identical: the predictor is in between
    assert not torch.allclose(q[0], z[0], atol=1e-3)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    for name in ('backbone', 'neck', 'head', 'projector', 'predictor'):
        grads = [p.grad for p in getattr(model, name).parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name
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


def test_target_is_mmselfsups_cosine_ema_and_leaves_buffers_alone():
    from mmselfsup.models.utils import CosineEMA
    torch.manual_seed(0)
    online = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    ema = MODELS.build(dict(type='CosineMomentumEMA', model=online, momentum=0.99))
    assert isinstance(ema, CosineEMA)
    assert ema.update_parameters(online) == 1.0          # step 0: copy
    online(torch.randn(8, 3))                           # online BN statistics move
    with torch.no_grad():
        for p in online.parameters():
            p.add_(torch.randn_like(p))
    target_buffers = [b.clone() for b in ema.module.buffers()]
    # mmselfsup's per-tensor path (CosineEMA.avg_func, max_iters from the MessageHub) as reference
    expected = [t.clone() for t in ema.module.parameters()]
    for t, o in zip(expected, online.parameters()):
        CosineEMA.avg_func(ema, t, o.detach(), 1)
    m = ema.update_parameters(online)                   # step 1, fused
    assert m == pytest.approx(1 - 0.01 * (math.cos(math.pi / 100) + 1) / 2)
    for t, e in zip(ema.module.parameters(), expected):
        torch.testing.assert_close(t, e)
    # buffers (BN running statistics) are not copied from the online network
    assert not torch.equal(online[1].running_mean, target_buffers[0])
    for b, before in zip(ema.module.buffers(), target_buffers):
        assert torch.equal(b, before)
    for bad in (dict(momentum=1.0), dict(momentum=0.99, end_momentum=0.9), dict(momentum=0.)):
        with pytest.raises(ValueError, match='momentum'):
            MODELS.build(dict(type='CosineMomentumEMA', model=online, **bad))


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


def test_single_level_pooling_matches_original_mode_in_eval_mode():
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
        feats = model._feature_maps(model.backbone, model.neck, inputs[0])
        single = model._box_embeddings(net, feats, rois[0], model.predictor)
        single_loss = model.loss(inputs, samples)
        model.roi_pooling = 'original'
        original = model._box_embeddings(net, feats, rois[0], model.predictor)
        original_loss = model.loss(inputs, samples)
    torch.testing.assert_close(single, original, rtol=1e-4, atol=1e-5)
    for key in single_loss:
        if key.startswith('loss'):
            torch.testing.assert_close(single_loss[key], original_loss[key], rtol=1e-4,
                                       atol=1e-5)


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


def _record_embeddings(model):
    """Hooks that collect, in call order, the online predictions and the target projections."""
    seen = {'q': [], 'z': []}
    hooks = [model.predictor.register_forward_hook(lambda m, i, o: seen['q'].append(o)),
             model.target_net.module['projector'].register_forward_hook(
                 lambda m, i, o: seen['z'].append(o))]
    return seen, hooks


def _assert_pairs(losses, seen, pairs, n, k):
    """Each ``loss_v{a}_v{b}`` is -2 cos(online view a, target view b), averaged per image."""
    for (a, b) in pairs:
        cos = torch.nn.functional.cosine_similarity(seen['q'][a - 1], seen['z'][b - 1], dim=1)
        key = f'loss_v{a}_v{b}'
        assert losses[key].item() == pytest.approx(-2 * cos.view(n, k).mean().item(),
                                                   abs=1e-5), key


def test_c4_compares_two_views_through_the_res5_head():
    model = build(model_cfg('c4'))
    inputs, samples = random_batch(n=2, sizes=(160, 160))
    seen, hooks = _record_embeddings(model)
    shapes = []
    for module in (model.roi_extractor, model.head, model.target_net.module['head']):
        hooks.append(module.register_forward_hook(lambda m, i, o: shapes.append(o.shape)))
    losses = model.loss(inputs, samples)
    for h in hooks:
        h.remove()
    assert set(losses) == {'loss_v1_v2', 'loss_v2_v1', 'momentum'}
    # per view, online then target: RoIAlign 14x14 on C4 (1024 channels), then res5 (stride 2)
    assert shapes == [(8, 1024, 14, 14), (8, 2048, 7, 7)] * 4
    assert [t.shape for t in seen['q'] + seen['z']] == [(8, 256)] * 4     # V1, V2 each
    _assert_pairs(losses, seen, [(1, 2), (2, 1)], n=2, k=4)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.head.layer4[0].conv1.weight.grad is not None
    assert not hasattr(model.backbone, 'layer4')


def test_soco_star_adds_v1_v4_both_ways():
    cfg = model_cfg('fpn', tiny=True)
    cfg.view_pairs = [(0, 1), (0, 2), (0, 3)]
    model = build(cfg)
    inputs, samples = random_batch(n=2, sizes=(96, 96, 48, 80))
    seen, hooks = _record_embeddings(model)
    losses = model.loss(inputs, samples)
    for h in hooks:
        h.remove()
    pairs = [(1, 2), (2, 1), (1, 3), (3, 1), (1, 4), (4, 1)]
    assert set(losses) == {f'loss_v{a}_v{b}' for a, b in pairs} | {'momentum'}
    assert [t.shape for t in seen['q'] + seen['z']] == [(8, 128)] * 8      # V1..V4 each
    _assert_pairs(losses, seen, pairs, n=2, k=4)
    # V4 is a view of its own: its embeddings are not another view's
    assert not torch.allclose(seen['q'][3], seen['q'][1], atol=1e-3)
    sum(v for k, v in losses.items() if 'loss' in k).backward()


def box_spread(emb):
    """Mean distance of each box's unit embedding from the boxes' mean direction: 0 = collapsed."""
    unit = torch.nn.functional.normalize(emb.detach(), dim=1)                 # n x C
    return (unit - unit.mean(0)).norm(dim=1).mean().item()


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
    seen = []
    hook = model.target_net.module['projector'].register_forward_hook(
        lambda m, i, o: seen.append(o))
    history, spread = [], []
    for _ in range(20):
        seen.clear()
        losses = model.loss(views, samples)
        spread.append(box_spread(seen[0]))          # target projections of the 8 V1 boxes
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    hook.remove()
    first, last = sum(history[:3]) / 3, sum(history[-3:]) / 3
    assert last < first - 0.5, history
    # the loss did not go down by collapsing: the 8 boxes (4 proposals x 2 photos) still point
    # in different directions (a collapsed network gives a spread of 0)
    assert min(spread[-3:]) > 0.5 * spread[0], spread


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


def test_loss_is_float32_and_finite_under_bf16_autocast():
    model = build(model_cfg('fpn', tiny=True))
    inputs, samples = random_batch(n=2, sizes=(96, 96, 48))
    seen = []
    hook = model.predictor.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model.loss(inputs, samples)
    hook.remove()
    assert torch.bfloat16 in seen                   # autocast did reach the network
    for key, value in losses.items():
        if key.startswith('loss'):
            assert value.dtype == torch.float32 and torch.isfinite(value), key
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.dtype == torch.float32 for p in model.target_net.parameters())


def test_rcnn_head_starts_from_pytorchs_default_init_as_the_original():
    """The original head is plain nn.Conv2d/nn.Linear, never re-initialised: uniform weights
    with bound 1/sqrt(fan_in) (std 1/sqrt(3 fan_in)). ConvModule's Kaiming (fan_out) would start
    the fc, which no BN follows in the detector, about 8.6x larger."""
    model = MODELS.build(model_cfg('fpn'))
    model.init_weights()
    layers = [conv.conv for conv in model.head.shared_convs] + [model.head.shared_fcs[0]]
    for layer in layers:
        w = layer.weight.detach()
        fan_in = w[0].numel()
        bound = 1 / math.sqrt(fan_in)
        assert w.abs().max() <= bound
        assert abs(w.std().item() * math.sqrt(3 * fan_in) - 1) < 0.05
    kaiming = MODELS.build(dict(model_cfg('fpn').head, init_cfg=dict(
        type='Kaiming', layer=['Conv2d', 'Linear'], nonlinearity='relu')))
    kaiming.init_weights()
    assert kaiming.shared_fcs[0].weight.std() > 5 * model.head.shared_fcs[0].weight.std()
