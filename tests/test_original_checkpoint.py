"""Checkpoints of the original SoCo release -> mmsoco -> MMDetection.

No released file is downloaded: each test writes a checkpoint in the authors' layout (as their
``main_pretrain.py`` saves it: ``opt`` Namespace, DDP ``module.`` keys, ``encoder``/``neck``/
``head``/``projector``/``predictor`` and the ``*_k`` target network) from the weights of a real
mmsoco model, with a renaming written here independently of the converter, then converts it
back and compares every tensor.
"""
import argparse
import os.path as osp
import pathlib
import pickle
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

from mmsoco.converters import SoCoCheckpointError, convert_soco_checkpoint
from mmsoco.converters.from_original import (build_soco_model, convert_original_checkpoint,
                                             default_config, load_into_model,
                                             load_original_checkpoint)
from mmsoco.testing import REPO

ORIGINAL2SOCO = osp.join(REPO, 'tools', 'model_converters', 'original2soco.py')
SOCO2MMDET = osp.join(REPO, 'tools', 'model_converters', 'soco2mmdet.py')
TINY = osp.join(REPO, 'tests', 'configs', 'soco_tiny_demo.py')


def soco_to_original(key):
    """The authors' name of an mmsoco SoCo key (online names; the caller adds ``_k``)."""
    rules = [
        (r'^backbone\.(.+)$', r'encoder.\1'),
        (r'^head\.layer4\.(.+)$', r'encoder.layer4.\1'),                     # C4: res5
        (r'^neck\.(.+)$', r'neck.\1'),
        (r'^head\.shared_convs\.(\d)\.conv\.(.+)$', lambda m: f'head.conv{int(m[1]) + 1}.{m[2]}'),
        (r'^head\.shared_convs\.(\d)\.bn\.(.+)$', lambda m: f'head.bn{int(m[1]) + 1}.{m[2]}'),
        (r'^head\.shared_fcs\.0\.(.+)$', r'head.fc1.\1'),
        (r'^(projector|predictor)\.fc1\.(.+)$', r'\1.linear1.\2'),
        (r'^(projector|predictor)\.bn\.(.+)$', r'\1.bn1.\2'),
        (r'^(projector|predictor)\.fc2\.(.+)$', r'\1.linear2.\2'),
    ]
    for pattern, repl in rules:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key)
    raise AssertionError(f'no original name for {key}')


def original_checkpoint(soco_state, variant):
    """The authors' checkpoint dict for a SoCo state dict (what ``save_checkpoint`` writes)."""
    model = OrderedDict()
    for key, value in soco_state.items():
        if key == 'target_net.steps':
            continue                                   # the original keeps its step in the model
        if key.startswith('target_net.module.'):
            name = soco_to_original(key[len('target_net.module.'):])
            module, rest = name.split('.', 1)
            model[f'module.{module}_k.{rest}'] = value.clone()
        else:
            model['module.' + soco_to_original(key)] = value.clone()
    if variant == 'c4':                                # SoCo_C4 keeps MoCo's unused queue
        model['module.queue'] = torch.randn(128, 16)
        model['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
    opt = argparse.Namespace(model='SoCo_FPN' if variant == 'fpn' else 'SoCo_C4', arch='resnet50',
                             epochs=100, batch_size=128, base_learning_rate=1.0,
                             lr_decay_epochs=[120, 160], amp_opt_level='O1', output_dir='out')
    return {'opt': opt, 'model': model,
            'optimizer': {'state': {}, 'param_groups': [{'lr': 0.1, 'params': [0, 1]}]},
            'scheduler': {'last_epoch': 5, 'base_lrs': [8.0], 'after_scheduler': {'T_max': 9}},
            'amp': {'loss_scaler0': {'loss_scale': 65536.0, 'unskipped': 3}}, 'epoch': 100}


def distinct(model, seed):
    """Random values in every tensor (online and target differ), as a state dict copy."""
    g = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            state[key] = torch.randn(value.shape, generator=g)
        else:
            state[key] = torch.randint(0, 1000, value.shape, generator=g, dtype=value.dtype)
    return state


@pytest.fixture(scope='module', params=['fpn', 'c4'])
def released(request):
    """(variant, SoCo model of the shipped config, its distinct weights, original checkpoint)."""
    variant = request.param
    model = build_soco_model(default_config(variant))
    state = distinct(model, seed=1 if variant == 'fpn' else 2)
    return variant, model, state, original_checkpoint(state, variant)


def test_the_written_layout_has_the_facts_of_the_release(released):
    variant, _, _, ckpt = released
    keys = list(ckpt['model'])
    assert all(k.startswith('module.') for k in keys)
    modules = {k.split('.')[1] for k in keys}
    if variant == 'fpn':
        assert modules == {'encoder', 'neck', 'head', 'projector', 'predictor', 'encoder_k',
                           'neck_k', 'head_k', 'projector_k'}
        head = [k for k in keys if k.startswith('module.head.')]
        assert len([k for k in head if re.match(r'module\.head\.conv[1-4]\.weight$', k)]) == 4
        assert not any(re.match(r'module\.head\.conv\d\.bias', k) for k in head)    # no bias
        assert ckpt['model']['module.head.fc1.weight'].shape == (1024, 12544)
        assert 'module.neck.lateral_convs.0.bn.running_mean' in keys
    else:
        assert modules == {'encoder', 'projector', 'predictor', 'encoder_k', 'projector_k',
                           'queue', 'queue_ptr'}
        assert ckpt['model']['module.projector.linear1.weight'].shape[1] == 2048
        assert 'module.encoder.layer4.2.conv3.weight' in keys
    assert ckpt['model']['module.predictor.bn1.running_var'].shape == (4096, )


def test_online_network_converts_back_to_the_same_tensors(released):
    variant, model, state, ckpt = released
    conv = convert_original_checkpoint(ckpt)
    assert conv.variant == variant and conv.info == {'opt.model': ckpt['opt'].model,
                                                     'epoch': 100}
    assert set(conv.state_dict) == set(state)
    for key, value in state.items():
        if key == 'target_net.steps':
            assert int(conv.state_dict[key]) == 1      # a converted target: the EMA goes on
        else:
            assert torch.equal(conv.state_dict[key], value), key
    left = {src for src, _ in conv.left_out}
    assert left == ({'module.queue', 'module.queue_ptr'} if variant == 'c4' else set())
    assert len(conv.mapped) == len(state) - 1
    load_into_model(conv, model)                       # strict: every key and shape
    for key, value in model.state_dict().items():
        assert torch.equal(value, conv.state_dict[key]), key
    text = conv.summary()
    assert f'R50-{variant.upper()}' in text and 'module.encoder.* -> backbone.*' in text


def test_target_network_becomes_the_online_network_on_request(released):
    variant, _, state, ckpt = released
    conv = convert_original_checkpoint(ckpt, source='target')
    for key, value in conv.state_dict.items():
        if key.startswith(('backbone.', 'neck.', 'head.', 'projector.')):
            assert torch.equal(value, state['target_net.module.' + key]), key
        elif key.startswith('predictor.'):             # the target network has no predictor
            assert torch.equal(value, state[key]), key
    online = {src for src, why in conv.left_out if why.startswith('online network')}
    assert online and all(k.startswith('module.') and '_k.' not in k for k in online)
    assert not any(k.startswith('module.predictor.') for k in online)


def test_model_ema_is_taken_when_asked_and_otherwise_reported(released):
    variant, _, state, ckpt = released
    ema = OrderedDict((k[len('module.'):], v + 1) for k, v in ckpt['model'].items()
                      if k.split('.')[1] in ('encoder', 'neck', 'head', 'projector', 'predictor'))
    with_ema = dict(ckpt, model_ema=ema)
    conv = convert_original_checkpoint(with_ema, source='ema')
    assert torch.equal(conv.state_dict['backbone.conv1.weight'], state['backbone.conv1.weight'] + 1)
    assert torch.equal(conv.state_dict['target_net.module.backbone.conv1.weight'],
                       state['target_net.module.backbone.conv1.weight'])
    reported = convert_original_checkpoint(with_ema)
    assert sum(src.startswith('model_ema:') for src, _ in reported.left_out) == len(ema)
    with pytest.raises(SoCoCheckpointError, match="no 'model_ema'"):
        convert_original_checkpoint(ckpt, source='ema')


def test_a_model_of_other_widths_is_refused(released):
    from mmengine.config import Config
    _, _, _, ckpt = released
    tiny = build_soco_model(Config.fromfile(TINY))     # ResNet-18, narrow FPN, head and MLPs
    with pytest.raises(SoCoCheckpointError, match='do not fit'):
        load_into_model(convert_original_checkpoint(ckpt), tiny)


def test_training_arguments_that_disagree_with_the_weights_are_refused(released):
    variant, _, _, ckpt = released
    bad = dict(ckpt, opt=argparse.Namespace(model='SoCo_C4' if variant == 'fpn' else 'SoCo_FPN'))
    with pytest.raises(SoCoCheckpointError, match='inconsistent'):
        convert_original_checkpoint(bad)


def test_an_mmsoco_checkpoint_is_not_taken_for_an_original_one(released):
    _, _, state, _ = released
    with pytest.raises(SoCoCheckpointError, match='mmsoco checkpoint already'):
        convert_original_checkpoint({'model': state})


# ------------------------------------------------------------------ files: weights-only, the CLI
class NotAllowed:
    """A type no SoCo checkpoint holds."""


def test_weights_only_loading_allows_the_training_arguments_and_nothing_else(tmp_path):
    good = str(tmp_path / 'good.pth')
    torch.save({'opt': argparse.Namespace(model='SoCo_FPN', lr_decay_epochs=[120, 160]),
                'model': {'module.encoder.conv1.weight': torch.ones(2)}, 'epoch': 3}, good)
    ckpt = load_original_checkpoint(good)
    assert ckpt['opt'].lr_decay_epochs == [120, 160] and ckpt['epoch'] == 3
    for extra, name in ((NotAllowed(), 'NotAllowed'),
                        (pathlib.PurePosixPath('out'), 'PurePosixPath')):
        bad = str(tmp_path / f'{name}.pth')
        torch.save({'model': {'module.encoder.conv1.weight': torch.ones(2)}, 'x': extra}, bad)
        with pytest.raises(SoCoCheckpointError, match=f'refused .*{name}.*argparse.Namespace'):
            load_original_checkpoint(bad)
    torch.save({'state_dict': {}}, str(tmp_path / 'other.pth'))
    with pytest.raises(SoCoCheckpointError, match="expected a dict with 'model'"):
        load_original_checkpoint(str(tmp_path / 'other.pth'))


@pytest.fixture(scope='module')
def tiny_original(tmp_path_factory):
    """A file in the authors' FPN layout with the widths of the tiny test config."""
    from mmengine.config import Config
    cfg = Config.fromfile(TINY)
    model = build_soco_model(cfg)
    state = distinct(model, seed=3)
    path = str(tmp_path_factory.mktemp('orig') / 'ckpt_epoch_100.pth')
    torch.save(original_checkpoint(state, 'fpn'), path)
    return path, state


def test_original2soco_cli_then_soco2mmdet(tiny_original, tmp_path, capsys, run_tool):
    path, state = tiny_original
    out = str(tmp_path / 'soco.pth')
    run_tool(ORIGINAL2SOCO, path, out, '--config', TINY)
    printed = capsys.readouterr().out
    assert 'original SoCo R50-FPN checkpoint (opt.model SoCo_FPN, epoch 100)' in printed
    assert f'loads strictly into the model of {TINY}' in printed and f'saved {out}' in printed
    saved = torch.load(out, map_location='cpu', weights_only=True)
    assert saved['meta']['converted_from_original_soco']['variant'] == 'fpn'
    for key, value in state.items():
        if key != 'target_net.steps':
            assert torch.equal(saved['state_dict'][key], value), key
    conv = convert_soco_checkpoint(out)                # on to MMDetection
    assert torch.equal(conv.state_dict['roi_head.bbox_head.shared_fcs.0.weight'],
                       state['head.shared_fcs.0.weight'])
    assert torch.equal(conv.state_dict['neck.fpn_convs.3.conv.weight'],
                       state['neck.fpn_convs.3.conv.weight'])


def test_original2soco_cli_refuses_a_config_of_other_widths(tiny_original, tmp_path, run_tool):
    path, _ = tiny_original
    with pytest.raises(SystemExit, match=r'original2soco: error: .*do not fit.*shape mismatch'):
        run_tool(ORIGINAL2SOCO, path, str(tmp_path / 'x.pth'))   # default: the R50-FPN config


def test_soco2mmdet_given_the_authors_checkpoint_points_to_original2soco(tiny_original,
                                                                         tmp_path, run_tool):
    path, state = tiny_original
    with pytest.raises(SystemExit, match=r'^soco2mmdet: error: .*original SoCo release.*'
                       rf'tools/model_converters/original2soco\.py {re.escape(path)} soco\.pth'):
        run_tool(SOCO2MMDET, path, str(tmp_path / 'out.pth'))
    loaded = original_checkpoint(state, 'fpn')        # loaded already, without the Namespace
    del loaded['opt']
    with pytest.raises(SoCoCheckpointError, match='original2soco'):
        convert_soco_checkpoint(loaded)


def authors_detectron2_names(ckpt):
    """The authors' ``convert_detectron2_Head.py`` renaming (start=2, num_outs=4), re-stated."""
    out = {}
    for k, v in ckpt['model'].items():
        if k.startswith('module.encoder.'):
            k = k[len('module.encoder.'):]
            k = k if 'layer' in k else 'stem.' + k
            for a, b in (('layer1', 'res2'), ('layer2', 'res3'), ('layer3', 'res4'),
                         ('layer4', 'res5'), ('bn1', 'conv1.norm'), ('bn2', 'conv2.norm'),
                         ('bn3', 'conv3.norm'), ('downsample.0', 'shortcut'),
                         ('downsample.1', 'shortcut.norm')):
                k = k.replace(a, b)
        elif k.startswith('module.neck.'):
            k = k[len('module.neck.'):]
            for i in range(4):
                k = k.replace(f'lateral_convs.{i}.conv', f'fpn_lateral{2 + i}')
                k = k.replace(f'lateral_convs.{i}.bn', f'fpn_lateral{2 + i}.norm')
                k = k.replace(f'fpn_convs.{i}.conv', f'fpn_output{2 + i}')
                k = k.replace(f'fpn_convs.{i}.bn', f'fpn_output{2 + i}.norm')
        elif k.startswith('module.head.'):
            k = 'box_head.' + k[len('module.head.'):]
            for i in range(1, 5):
                k = k.replace(f'bn{i}', f'conv{i}.norm')
        else:
            continue
        out[k] = v.numpy()
    return out


def test_the_authors_detectron2_pickle_goes_to_mmdetection(tiny_original, tmp_path, capsys,
                                                           run_tool):
    path, state = tiny_original
    pkl = str(tmp_path / 'current_detectron2_Head.pkl')
    model = authors_detectron2_names(torch.load(path, weights_only=False))
    with open(pkl, 'wb') as f:
        pickle.dump({'model': model, '__author__': 'Yue', 'matching_heuristics': True}, f)
    out = str(tmp_path / 'mmdet.pth')
    run_tool(SOCO2MMDET, pkl, out)
    assert f'saved {out}' in capsys.readouterr().out
    mmdet = torch.load(out, map_location='cpu', weights_only=True)['state_dict']
    pairs = {'backbone.layer3.1.bn2.running_var': 'backbone.layer3.1.bn2.running_var',
             'neck.lateral_convs.0.bn.weight': 'neck.lateral_convs.0.bn.weight',
             'roi_head.bbox_head.shared_convs.3.conv.weight': 'head.shared_convs.3.conv.weight',
             'roi_head.bbox_head.shared_fcs.0.bias': 'head.shared_fcs.0.bias'}
    for mmdet_key, soco_key in pairs.items():
        assert torch.equal(mmdet[mmdet_key], state[soco_key]), mmdet_key
    assert len(mmdet) == len(model)          # every tensor of the pickle has a detector place


class RunsCode:
    def __reduce__(self):
        import os
        return os.getcwd, ()


def test_a_pickle_that_would_run_code_is_refused(tmp_path, run_tool):
    pkl = str(tmp_path / 'evil.pkl')
    with open(pkl, 'wb') as f:
        pickle.dump({'model': {'stem.conv1.weight': np.ones(2)}, 'matching_heuristics': True,
                     'x': RunsCode()}, f)
    with pytest.raises(SystemExit, match=r'refused global (posix|os)\.getcwd'):
        run_tool(SOCO2MMDET, pkl, str(tmp_path / 'out.pth'))


@pytest.mark.parametrize('damage', ['garbage', 'truncated'])
def test_a_file_that_is_not_a_complete_checkpoint_is_one_clear_error(tmp_path, damage, run_tool):
    """Both loaders (the authors' layout and mmsoco's) name the file instead of torch's bare
    errors (``KeyError``, ``IndexError``, ``RuntimeError``, ``OSError``)."""
    from mmsoco.converters.soco_checkpoint import load_soco_checkpoint

    path = tmp_path / 'broken.pth'
    if damage == 'garbage':
        path.write_bytes(b'this is not a checkpoint at all' * 10)
    else:
        torch.save({'model': {'w': torch.zeros(64, 64)}}, path)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    for load in (convert_original_checkpoint, load_soco_checkpoint):
        with pytest.raises(SoCoCheckpointError, match='is not a readable torch checkpoint'):
            load(str(path))
    with pytest.raises(SystemExit, match='broken.pth is not a readable torch checkpoint'):
        run_tool(ORIGINAL2SOCO, str(path), str(tmp_path / 'out.pth'))


def test_a_refused_pickle_is_named_by_its_reason_not_torchs_weights_only_paragraph(tmp_path):
    """Torch's weights-only message opens with a paragraph about the ``weights_only`` default;
    the error keeps only the reason it gives further down (here a byte no pickle opcode has)."""
    from mmsoco.converters.soco_checkpoint import load_soco_checkpoint

    path = tmp_path / 'notes.pth'
    path.write_bytes(b'garbage\n')
    with pytest.raises(SoCoCheckpointError) as err:
        load_soco_checkpoint(str(path))
    message = str(err.value)
    assert message.startswith(f'{path} is not a readable torch checkpoint')
    assert 'Unsupported operand' in message and 'PyTorch 2.6' not in message
    assert len(message.splitlines()) == 1
