"""Continued pretraining: an existing model -> tools/model_converters/init2soco.py -> a SoCo run.

Every source is built with its own library and random weights: torchvision's ResNet, mmselfsup's
MoCo v2, BYOL and DenseCL from their shipped configs (saved as mmengine's Runner saves them,
HistoryBuffers and numpy scalars included, without mmsoco's pickling fix), an mmsoco SoCo model,
and a file in the original SoCo layout.  BN statistics and the sources' own momentum networks
are made to differ from a freshly built model, so that a tensor that was not converted cannot
pass for one that was.
"""
import copy
import copyreg
import math
import os.path as osp
from collections import OrderedDict
from fractions import Fraction

import numpy as np
import pytest
import torch
import torchvision
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.hub import get_config
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmsoco.converters.from_original import build_soco_model
from mmsoco.converters.init_checkpoint import convert_init_checkpoint, resnet_depth
from mmsoco.registry import HOOKS
from mmsoco.testing import REPO, plain_bn, random_batch

INIT2SOCO = osp.join(REPO, 'tools', 'model_converters', 'init2soco.py')
FPN_INIT = osp.join(REPO, 'configs', 'soco', 'soco_resnet50-fpn_8xb32-coslr-20e_folder-init.py')
C4_INIT = osp.join(REPO, 'configs', 'soco', 'soco_resnet50-c4_8xb32-coslr-20e_folder-init.py')
TINY = osp.join(REPO, 'tests', 'configs', 'soco_tiny_demo.py')
MASK_RCNN = osp.join(REPO, 'configs', 'transfer', 'mask-rcnn_r50_fpn_soco-100e_1x_coco.py')
FCN = osp.join(REPO, 'configs', 'segmentation', 'fcn_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py')
SELFSUP = 'mmselfsup::selfsup/{}'
NEW_IF_BACKBONE_ONLY = ['neck', 'head', 'projector', 'predictor']


def randomise(state, seed, prefixes=('',)):
    """Random values in every floating tensor under ``prefixes`` (BN statistics included)."""
    g = torch.Generator().manual_seed(seed)
    for key, value in state.items():
        if key.startswith(prefixes) and value.is_floating_point():
            value.copy_(torch.rand(value.shape, generator=g) + 0.5)
    return state


def save_like_runner(model, path, cfg_text=''):
    """What mmengine 0.10's ``Runner.save_checkpoint`` writes, pickled as a process without mmsoco
    writes it (HistoryBuffer with ``getattr(HistoryBuffer, 'min')``)."""
    hub = MessageHub.get_instance('init-test-hub')
    hub.update_scalar('train/loss', np.float64(4.2))
    hub.update_info('iter', 1000)
    ckpt = dict(meta=dict(cfg=cfg_text, seed=np.int64(0), epoch=200, iter=1000,
                          experiment_name='pretrain', mmengine_version='0.10.7'),
                state_dict=OrderedDict((k, v.detach().clone()) for k, v in
                                       model.state_dict().items()),
                message_hub=hub.state_dict(),
                optimizer=torch.optim.SGD(model.parameters(), lr=0.1).state_dict(),
                param_schedulers=[dict(base_lrs=[0.03], last_epoch=200)])
    fix = copyreg.dispatch_table.pop(HistoryBuffer, None)
    try:
        torch.save(ckpt, path)
    finally:
        if fix is not None:
            copyreg.dispatch_table[HistoryBuffer] = fix
    return ckpt['state_dict']


def build_selfsup(config):
    from mmselfsup.registry import MODELS
    cfg = get_config(SELFSUP.format(config))      # the config mmselfsup ships
    with DefaultScope.overwrite_default_scope('mmselfsup'):
        model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    return model, cfg.pretty_text


def without(state, prefix):
    return OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))


@pytest.fixture(scope='module')
def sources(tmp_path_factory):
    """name -> (path, the source's ResNet tensors under torchvision names, source state dict)."""
    root = tmp_path_factory.mktemp('sources')
    out = {}
    tv = randomise(torchvision.models.resnet50(weights=None).state_dict(), 1)
    torch.save(tv, str(root / 'resnet50.pth'))
    out['torchvision'] = (str(root / 'resnet50.pth'),
                          OrderedDict((k, v) for k, v in tv.items() if not k.startswith('fc.')), tv)
    for name, config, momentum_net in (
            ('mocov2', 'mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py', 'encoder_k.'),
            ('byol', 'byol/byol_resnet50_16xb256-coslr-200e_in1k.py', 'target_net.'),
            ('densecl', 'densecl/densecl_resnet50_8xb32-coslr-200e_in1k.py', 'encoder_k.')):
        model, text = build_selfsup(config)
        randomise(model.state_dict(), 2, ('backbone.', ))
        randomise(model.state_dict(), 3, (momentum_net, ))       # the momentum net differs
        path = str(root / f'{name}_epoch_200.pth')
        state = save_like_runner(model, path, text)
        out[name] = (path, without(state, 'backbone.'), state)
    soco = build_soco_model(Config.fromfile(TINY))     # narrow widths: the layout is the same
    state = randomise(soco.state_dict(), 4)
    state['target_net.steps'].fill_(37)                          # a run that went on for a while
    path = str(root / 'soco_epoch_20.pth')
    state = save_like_runner(soco, path)
    out['mmsoco'] = (path, without(state, 'backbone.'), state)
    return out


@pytest.mark.parametrize('layout', ['torchvision', 'mocov2', 'byol', 'densecl', 'mmsoco'])
def test_each_layout_gives_the_source_backbone_to_online_and_target(
        layout, sources, tmp_path, run_tool, capsys):
    path, resnet, state = sources[layout]
    dst = str(tmp_path / 'start.pth')
    run_tool(INIT2SOCO, path, dst, '--config', TINY if layout == 'mmsoco' else FPN_INIT)
    out = capsys.readouterr().out
    assert f'saved {dst}' in out
    new = NEW_IF_BACKBONE_ONLY if layout != 'mmsoco' else []
    assert (f'{", ".join(new)}: new' if new else 'new: nothing') in out
    written = torch.load(dst)['state_dict']
    if layout != 'mmsoco':    # ResNet-50: 53 convs, 53 BNs x 5 tensors, the fc left out
        assert resnet_depth(resnet) == 50 and len(resnet) == 318
    for key, value in resnet.items():
        assert torch.equal(written['backbone.' + key], value), key
        assert torch.equal(written['target_net.module.backbone.' + key], value), key
    assert int(written['target_net.steps']) == 0
    online = [k for k in written if not k.startswith('target_net.')]
    if layout == 'mmsoco':
        # everything the source has, the target a copy of the online network (not the source's)
        assert online == [k for k in state if not k.startswith('target_net.')]
        for key in online:
            assert torch.equal(written[key], state[key]), key
            if not key.startswith('predictor.'):
                assert torch.equal(written['target_net.module.' + key], state[key]), key
        assert not torch.equal(state['target_net.module.neck.fpn_convs.0.conv.weight'],
                               state['neck.fpn_convs.0.conv.weight'])
    else:
        assert online == ['backbone.' + k for k in resnet]
    if layout == 'torchvision':   # the model of the config lacks exactly the new modules
        model = build_soco_model(FPN_INIT)
        missing, unexpected = model.load_state_dict(written, strict=False)
        assert unexpected == [] and sorted(
            {k.replace('target_net.module.', '').split('.')[0] for k in missing}) == sorted(new)
    # what the file lacks, in the words of mmengine's (non-strict) load_from, which lists it
    if new:
        assert 'loads strictly' not in out
        assert (f'not in the file: {", ".join(new)} (and the target_net copies of neck, head, '
                "projector), which start freshly initialised: load_from lists their tensors as "
                "'missing keys in source state_dict'") in out
    else:
        assert f'loads strictly into the model of {TINY}' in out
    if layout in ('mocov2', 'densecl'):        # what was left out, and why
        assert 'encoder_k.*: the momentum (key) encoder' in out and 'queue: the negative' in out
        name = 'MoCo' if layout == 'mocov2' else 'DenseCL'
        assert f'{name}, ResNet-50 -> SoCo R50-FPN start' in out


@pytest.fixture(scope='module')
def torchvision_start(sources, tmp_path_factory):
    """``config -> (path, conversion)``: the torchvision source converted once per config, for
    the tests that read the start file (each conversion builds a SoCo R50 and writes ~200 MB)."""
    root = tmp_path_factory.mktemp('torchvision_start')
    done = {}

    def get(config):
        if config not in done:
            path = str(root / (osp.splitext(osp.basename(config))[0] + '.pth'))
            done[config] = path, convert_init_checkpoint(sources['torchvision'][0], config, path)
        return done[config]

    return get


def test_c4_takes_layer4_as_the_res5_head(sources, torchvision_start):
    _, resnet, _ = sources['torchvision']
    path, conv = torchvision_start(C4_INIT)
    written = torch.load(path)['state_dict']
    assert conv.new == ['projector', 'predictor'] and conv.provided == ['backbone', 'head']
    for key, value in resnet.items():
        dst = ('head.' if key.startswith('layer4.') else 'backbone.') + key
        assert torch.equal(written[dst], value) and torch.equal(
            written['target_net.module.' + dst], value), key
    assert not any(k.startswith('backbone.layer4.') for k in written)


def test_an_original_soco_checkpoint_starts_a_run_with_its_online_network(tmp_path):
    from test_original_checkpoint import distinct, original_checkpoint
    cfg = Config.fromfile(TINY)
    state = distinct(build_soco_model(cfg), seed=5)
    path = str(tmp_path / 'ckpt_epoch_100.pth')
    torch.save(original_checkpoint(state, 'fpn'), path)
    conv = convert_init_checkpoint(path, cfg, str(tmp_path / 'start.pth'))
    written = torch.load(str(tmp_path / 'start.pth'))['state_dict']
    assert conv.layout == 'original' and conv.new == []
    for key, value in state.items():
        if key.startswith('target_net.'):
            continue
        assert torch.equal(written[key], value), key
        if not key.startswith('predictor.'):
            assert torch.equal(written['target_net.module.' + key], value), key


@HOOKS.register_module(force=True)
class _RecordStart(Hook):
    """Keeps copies of the online and target networks before the first step."""
    seen = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == 0:
            model = runner.model
            _RecordStart.seen = dict(
                online=copy.deepcopy(model.backbone.state_dict()),
                target=copy.deepcopy(model.target_net.module.backbone.state_dict()),
                steps=int(model.target_net.steps))


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    """A real demo collection (scikit-image photos) with its selective-search proposals."""
    from data_prep.demo_collection import build_demo_collection
    from data_prep.generate_proposals import main as generate
    root = str(tmp_path_factory.mktemp('demo'))
    build_demo_collection(root, n_images=4)
    assert generate([osp.join(root, 'train'), '--out', osp.join(root, 'proposals.npz'),
                     '--workers', '0', '--no-progress']) == 0
    return root


def test_a_run_from_the_converted_file_starts_with_target_equal_to_source(
        sources, torchvision_start, demo_data, tmp_path):
    _, resnet, _ = sources['torchvision']
    start, _ = torchvision_start(FPN_INIT)
    cfg = Config.fromfile(FPN_INIT)          # the continued config, as shipped, on the demo images
    cfg.model = plain_bn(cfg.model)
    cfg.load_from = start
    cfg.work_dir = str(tmp_path / 'work')
    ds = cfg.train_dataloader.dataset
    ds.update(data_root=demo_data + '/', data_prefix=dict(img_path='train/'))
    views = ds.pipeline[2]
    views.views = [dict(kind='whole', size=64), dict(kind='crop', size=64),
                   dict(kind='downsample', size=32)]
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_cfg.max_epochs = 1                               # 4 images, batch 2: 2 iterations
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='_RecordStart')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    seen = _RecordStart.seen
    assert seen['steps'] == 0
    for key, value in resnet.items():
        assert torch.equal(seen['online'][key], value), key
        assert torch.equal(seen['target'][key], value), key    # parameters and BN statistics
    assert runner.iter == 2
    hub = runner.message_hub
    losses = [v for k, v in hub.log_scalars.items() if k.startswith('train/loss')]
    assert losses and all(math.isfinite(v.current()) for v in losses)
    momentum = hub.log_scalars['train/momentum'].data[0]
    # step 0 copies (logged 1.0); step 1 uses the schedule from its base: m_1 for K = 2
    expected = 1 - (1 - 0.99) * (math.cos(math.pi * 1 / 2) + 1) / 2
    assert np.allclose(momentum, [1.0, expected])


def test_a_soco_source_starts_its_momentum_schedule_over(sources, tmp_path):
    path, _, state = sources['mmsoco']
    assert int(state['target_net.steps']) == 37
    start = str(tmp_path / 'start.pth')
    cfg = Config.fromfile(TINY)
    convert_init_checkpoint(path, cfg, start)
    model = build_soco_model(cfg)
    model.load_state_dict(torch.load(start)['state_dict'], strict=True)
    model.target_net.max_iters = 10
    online = dict(model.named_parameters())
    for key, value in model.target_net.module.named_parameters():
        assert torch.equal(value, online[key]), key            # equal before any update
    inputs, samples = random_batch(n=2, sizes=(64, 64, 32))
    model.train()
    first = model.loss(inputs, samples)['momentum']
    second = model.loss(inputs, samples)['momentum']
    assert float(first) == 1.0
    assert math.isclose(float(second), 1 - 0.01 * (math.cos(math.pi / 10) + 1) / 2,
                        rel_tol=1e-6)


# ------------------------------------------------------------------------------ refusals
def _refused(run_tool, src, dst, layouts=True):
    """The one-line message of init2soco.py; nothing written."""
    with pytest.raises(SystemExit) as e:
        run_tool(INIT2SOCO, src, dst, '--config', FPN_INIT)
    msg = str(e.value.code)
    assert msg.startswith('init2soco: error: ') and '\n' not in msg and src in msg, msg
    assert not layouts or 'understood: a torchvision ResNet' in msg, msg
    assert not osp.exists(dst)
    return msg


@pytest.mark.parametrize('depth', [18, 101])
def test_a_classifier_of_another_depth_is_refused(depth, run_tool, tmp_path):
    src = str(tmp_path / f'resnet{depth}.pth')
    torch.save(getattr(torchvision.models, f'resnet{depth}')(weights=None).state_dict(), src)
    msg = _refused(run_tool, src, str(tmp_path / 'out.pth'))
    assert f'ResNet-{depth}' in msg and 'ResNet-50' in msg


@pytest.mark.parametrize('damage', ['truncated', 'garbage', 'unknown', 'missing', 'pickled code'])
def test_a_file_that_is_no_understood_source_is_one_clear_line(damage, sources, run_tool, tmp_path):
    src = str(tmp_path / 'src.pth')
    good = open(sources['torchvision'][0], 'rb').read()
    if damage == 'truncated':
        open(src, 'wb').write(good[:len(good) // 2])
    elif damage == 'garbage':
        open(src, 'wb').write(np.random.default_rng(0).bytes(4096))
    elif damage == 'unknown':
        torch.save({'encoder.blocks.0.attn.qkv.weight': torch.zeros(3, 3)}, src)
    elif damage == 'pickled code':
        torch.save({'state_dict': sources['torchvision'][2], 'ratio': Fraction(1, 3)}, src)
    msg = _refused(run_tool, src, str(tmp_path / 'out.pth'))
    expected = {'truncated': 'not a readable torch checkpoint', 'garbage': 'not a readable',
                'unknown': 'unknown layout, found encoder.* (1)', 'missing': 'no such file',
                'pickled code': 'refused by the weights-only loader: it references '
                                'fractions.Fraction'}[damage]
    assert expected in msg, msg


def test_missing_tensors_and_wrong_shapes_are_listed(sources, run_tool, tmp_path):
    state = OrderedDict(sources['torchvision'][2])
    del state['layer2.1.bn1.weight'], state['layer2.1.bn1.bias']     # a partial source
    state['layer1.0.conv2.weight'] = torch.zeros(64, 64, 1, 1)       # right names, wrong shapes
    state['layer3.5.bn2.running_var'] = torch.ones(128)
    src = str(tmp_path / 'odd.pth')
    torch.save(state, src)
    msg = _refused(run_tool, src, str(tmp_path / 'out.pth'), layouts=False)
    assert ('missing: backbone.layer2.1.bn1.weight, backbone.layer2.1.bn1.bias; '
            'shape mismatch: backbone.layer1.0.conv2.weight (64, 64, 1, 1) vs (64, 64, 3, 3), '
            'backbone.layer3.5.bn2.running_var (128,) vs (256,)') in msg, msg


@pytest.mark.parametrize('kind', ['detector', 'segmentor'])
def test_a_fine_tuned_model_is_refused_naming_what_it_is(kind, run_tool, tmp_path):
    """A detector or segmentor has backbone.* like an mmselfsup checkpoint, but is none of the
    understood layouts (its FPN is no image-level neck, its heads no algorithm's extras)."""
    from mmsoco.converters import build_detector, build_segmentor
    src = str(tmp_path / f'{kind}_epoch_12.pth')
    model = build_detector(MASK_RCNN) if kind == 'detector' else build_segmentor(FCN)
    save_like_runner(model, src)
    msg = _refused(run_tool, src, str(tmp_path / 'out.pth'))
    what = {'detector': 'an MMDetection detector checkpoint (found backbone.* (',
            'segmentor': 'an MMSegmentation segmentor checkpoint (found auxiliary_head.* ('}[kind]
    assert what in msg and 'none of the understood layouts' in msg, msg


@pytest.mark.parametrize('variant', ['fpn', 'c4'])
def test_its_own_start_file_converts_to_the_same_file(variant, torchvision_start, run_tool,
                                                      tmp_path):
    """A start file init2soco.py wrote is an mmsoco layout: converted again for the same config
    it gives the same tensors; for the other variant's config the reason is the variant."""
    config, other = (FPN_INIT, C4_INIT) if variant == 'fpn' else (C4_INIT, FPN_INIT)
    first, _ = torchvision_start(config)
    again = str(tmp_path / 'again.pth')
    conv = convert_init_checkpoint(first, config, again)
    a, b = torch.load(first)['state_dict'], torch.load(again)['state_dict']
    assert conv.layout == 'mmsoco' and list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    if variant == 'c4':     # res5 is the RoI head: an FPN model cannot take it
        with pytest.raises(SystemExit) as e:
            run_tool(INIT2SOCO, first, str(tmp_path / 'fpn.pth'), '--config', other)
        msg = str(e.value.code)
        assert '\n' not in msg and 'the config expects a SoCo R50-FPN checkpoint' in msg, msg
        assert 'but this is a SoCo R50-C4 checkpoint' in msg, msg
    else:                   # a backbone with its layer4: the C4 model takes it as its res5
        conv = convert_init_checkpoint(first, other)
        assert conv.provided == ['backbone', 'head'] and conv.new == ['projector', 'predictor']
