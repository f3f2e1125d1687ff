"""SoCo -> MMSegmentation converter (tools/model_converters/soco2mmseg.py) and its bad input.

The SoCo checkpoint is the real registered model's state dict with distinguishable values
(transfer_utils.soco_state_dict): the online network, the target network (offset) and the
predictor, saved as the mmengine Runner saves it.  The expected mapping is written out here from
the layout (SoCo keeps mmdet/mmseg ResNet and FPN names), not read from the converter.
"""
import os.path as osp
from functools import lru_cache
import pytest
import torch

from mmsoco.converters import SoCoCheckpointError
from mmsoco.converters import convert_state_dict as convert_for_mmdet
from mmsoco.converters import save_mmdet_checkpoint
from mmsoco.converters.to_mmseg import (build_segmentor, check_against_segmentor,
                                        convert_soco_checkpoint, convert_state_dict,
                                        neck_from_config)
from transfer_utils import REPO, save_like_mmengine, soco_state_dict

SOCO2MMSEG = osp.join(REPO, 'tools', 'model_converters', 'soco2mmseg.py')
SEG_DIR = osp.join(REPO, 'configs', 'segmentation')
FCN = osp.join(SEG_DIR, 'fcn_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py')
FPN = osp.join(SEG_DIR, 'fpn_r50_soco-100e_4xb4-20k_voc12aug-512x512.py')
MASK_RCNN = osp.join(REPO, 'configs', 'transfer', 'mask-rcnn_r50_fpn_soco-100e_1x_coco.py')
NECK = ('neck.lateral_convs.', 'neck.fpn_convs.')


@lru_cache(maxsize=None)
def _segmentor_state(config):
    """The state dict of the segmentor a config builds (built once per config)."""
    return build_segmentor(config).state_dict()


@pytest.fixture(scope='module')
def soco_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('soco_seg')
    return {v: save_like_mmengine(soco_state_dict(v), str(root / f'soco_{v}.pth'))
            for v in ('fpn', 'c4')}


def _expected(state, source, with_neck):
    """(soco key, mmseg key) pairs: backbone.* and, with the neck, the FPN convs, names kept."""
    prefix = 'target_net.module.' if source == 'target' else ''
    keys = [k[len(prefix):] for k in state if k.startswith(prefix) and
            not (source == 'online' and k.startswith('target_net.'))]
    return [(prefix + k, k) for k in keys
            if k.startswith('backbone.') or (with_neck and k.startswith(NECK))]


@pytest.mark.parametrize('source', ['online', 'target'])
@pytest.mark.parametrize('with_neck', [False, True])
def test_converted_tensors_equal_the_source(source, with_neck):
    state = soco_state_dict('fpn')
    conv = convert_state_dict(state, with_neck=with_neck, source=source)
    pairs = _expected(state, source, with_neck)
    assert [(s, d) for s, d, _ in conv.mapped] == pairs
    assert list(conv.state_dict) == [d for _, d in pairs]
    for src, dst in pairs:
        assert torch.equal(conv.state_dict[dst], state[src]), dst
    # the two networks differ (transfer_utils offsets the target): the asked one was taken
    other = 'backbone.conv1.weight' if source == 'target' else \
        'target_net.module.backbone.conv1.weight'
    assert not torch.equal(conv.state_dict['backbone.conv1.weight'], state[other])
    # everything else is accounted for as left out, with its reason
    assert {k for k, _ in conv.left_out} == set(state) - {s for s, _ in pairs}
    assert len(conv.mapped) == (366 if with_neck else 318)


def test_c4_checkpoint_gives_a_whole_resnet():
    """SoCo R50-C4 pretrains res5 as its RoI head: it becomes the segmentor's layer4."""
    state = soco_state_dict('c4')
    conv = convert_state_dict(state)
    for key, value in state.items():
        if key.startswith('head.layer4.'):
            assert torch.equal(conv.state_dict['backbone.' + key[len('head.'):]], value)
        elif key.startswith('backbone.'):
            assert torch.equal(conv.state_dict[key], value)
    fpn = convert_state_dict(soco_state_dict('fpn'))
    assert sorted(conv.state_dict) == sorted(fpn.state_dict)  # the same 318 ResNet-50 tensors
    with pytest.raises(SoCoCheckpointError, match='needs a SoCo R50-FPN checkpoint'):
        convert_state_dict(state, with_neck=True)


@pytest.mark.parametrize('config,with_neck', [(FCN, False), (FPN, True)])
def test_conversion_fits_the_segmentor_strictly(config, with_neck, soco_files, tmp_path):
    dst = str(tmp_path / 'out.pth')
    conv = convert_soco_checkpoint(soco_files['fpn'], dst, config=config)
    assert conv.with_neck is with_neck
    model_sd = _segmentor_state(config)
    scopes = ('backbone.', ) + (NECK if with_neck else ())
    assert sorted(conv.state_dict) == sorted(k for k in model_sd if k.startswith(scopes))
    saved = torch.load(dst)
    assert saved['meta']['soco_transfer']['with_neck'] is with_neck
    assert all(torch.equal(saved['state_dict'][k], v) for k, v in conv.state_dict.items())
    # a neck the config does not have, or no neck for Semantic FPN: refused
    with pytest.raises(SoCoCheckpointError, match='add --with-neck' if with_neck else 'no neck'):
        convert_soco_checkpoint(soco_files['fpn'], config=config, with_neck=not with_neck)


def test_strict_check_names_what_does_not_fit():
    conv = convert_state_dict(soco_state_dict('fpn'), with_neck=True)
    model_sd = _segmentor_state(FPN)
    # an FPN without BN (mmseg's default) has conv biases and no bn.*: both lists are named
    no_bn = {k: v for k, v in model_sd.items() if not k.startswith(NECK) or '.bn.' not in k}
    no_bn['neck.lateral_convs.0.conv.bias'] = torch.zeros(256)
    with pytest.raises(SoCoCheckpointError, match=r'missing from the converted checkpoint: '
                       r'neck\.lateral_convs\.0\.conv\.bias.*not in the segmentor: '
                       r'neck\.lateral_convs\.0\.bn\.weight'):
        check_against_segmentor(conv, no_bn)
    wide = dict(model_sd, **{'backbone.conv1.weight': torch.zeros(32, 3, 7, 7)})
    with pytest.raises(SoCoCheckpointError, match=r'shape mismatch: backbone\.conv1\.weight '
                       r'\(64, 3, 7, 7\) vs \(32, 3, 7, 7\)'):
        check_against_segmentor(conv, wide)


def test_a_config_that_does_not_fit_is_refused_by_the_converter_and_the_tool(soco_files, tmp_path):
    """The strict check runs inside the conversion: mmseg's own (non-strict) loading would keep
    the segmentor's initial values where the file does not fit, with only a warning."""
    no_bn = tmp_path / 'fpn_bn-less-neck.py'     # Semantic FPN as mmseg ships it: no norm, biases
    no_bn.write_text(f"_base_ = '{FPN}'\nmodel = dict(neck=dict(norm_cfg=None))\n")
    dst = tmp_path / 'out.pth'
    words = ['does not fit the segmentor of the config', 'missing from the converted checkpoint: '
             'neck.lateral_convs.0.conv.bias', 'not in the segmentor: neck.lateral_convs.0.bn.']
    with pytest.raises(SoCoCheckpointError) as e:
        convert_soco_checkpoint(soco_files['fpn'], str(dst), config=str(no_bn))
    assert all(w in str(e.value) for w in words), str(e.value)
    error, _ = _tool(soco_files['fpn'], str(dst), '--config', str(no_bn))
    assert error is not None and error.startswith('soco2mmseg: error: '), error
    assert len(error.splitlines()) == 1 and all(w in error for w in words), error
    assert not osp.exists(dst)


def test_a_detection_config_is_refused(soco_files, tmp_path):
    dst = tmp_path / 'out.pth'
    with pytest.raises(SoCoCheckpointError, match=r"the config's model is MaskRCNN, a detector "
                       r'\(rpn_head, roi_head\): expected an MMSegmentation segmentor'):
        convert_soco_checkpoint(soco_files['fpn'], str(dst), config=MASK_RCNN)
    error, _ = _tool(soco_files['fpn'], str(dst), '--config', MASK_RCNN)
    assert error is not None and len(error.splitlines()) == 1, error
    assert error.startswith('soco2mmseg: error: ') and 'MaskRCNN, a detector' in error, error
    assert not osp.exists(dst)


def test_deep_stem_config_is_refused():
    from mmengine.config import Config
    cfg = Config.fromfile(FCN)
    cfg.model.backbone.type = 'ResNetV1c'
    with pytest.raises(SoCoCheckpointError, match="backbone is ResNetV1c, expected "
                       "type='ResNet'.*deep stem"):
        neck_from_config(cfg)


def test_detector_and_segmentor_checkpoints_are_refused():
    det = convert_for_mmdet(soco_state_dict('fpn'), det='rcnn').state_dict
    with pytest.raises(SoCoCheckpointError, match='MMDetection checkpoint already'):
        convert_state_dict(det)
    seg = dict(convert_state_dict(soco_state_dict('fpn')).state_dict,
               **{'decode_head.conv_seg.weight': torch.zeros(21, 512, 1, 1)})
    with pytest.raises(SoCoCheckpointError, match='MMSegmentation checkpoint already'):
        convert_state_dict(seg)


# --------------------------------------------------------------------------- the command line
def _tool(*argv, capsys=None):
    """Run soco2mmseg.py's main in this process: ``(exit message or None, stdout)``."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('soco2mmseg', SOCO2MMSEG)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    try:
        tool.main(list(argv))
    except SystemExit as e:  # sys.exit(message): the one line the shell prints on stderr
        return str(e.code), capsys.readouterr().out if capsys else ''
    return None, capsys.readouterr().out if capsys else ''


def test_tool_converts_and_reports_counts(soco_files, tmp_path, capsys):
    dst = str(tmp_path / 'soco_r50-fpn_mmseg-fpn.pth')
    error, out = _tool(soco_files['fpn'], dst, '--config', FPN, capsys=capsys)
    assert error is None, error
    assert 'mapped 366 tensors' in out and '318  backbone.* -> backbone.*' in out
    assert 'left out 446 tensors' in out and 'saved ' + dst in out
    sd = torch.load(dst)['state_dict']
    assert torch.equal(sd['neck.fpn_convs.3.conv.weight'],
                       soco_state_dict('fpn')['neck.fpn_convs.3.conv.weight'])


def test_tool_bad_input_is_one_clear_line(soco_files, tmp_path):
    det = str(tmp_path / 'faster-rcnn.pth')
    save_mmdet_checkpoint(convert_for_mmdet(soco_state_dict('fpn'), det='rcnn'), det)
    garbage = tmp_path / 'notes.pth'
    garbage.write_bytes(b'not a checkpoint at all')
    v1c = tmp_path / 'fcn_v1c.py'
    v1c.write_text(f"_base_ = '{FCN}'\nmodel = dict(backbone=dict(type='ResNetV1c'))\n")
    missing = str(tmp_path / 'missing.pth')
    cases = [
        ((det, 'o.pth'), [det, 'not a SoCo checkpoint', 'MMDetection checkpoint already']),
        ((str(garbage), 'o.pth'), [str(garbage), 'not a readable torch checkpoint']),
        ((missing, 'o.pth'), [missing, 'no such file', 'expected a SoCo checkpoint']),
        ((soco_files['fpn'], 'o.pth', '--config', str(v1c)),
         ["backbone is ResNetV1c, expected type='ResNet'"]),
    ]
    for argv, words in cases:
        error, _ = _tool(*(str(tmp_path / a) if a == 'o.pth' else a for a in argv))
        assert error is not None and len(error.splitlines()) == 1, error
        assert error.startswith('soco2mmseg: error: ')
        assert all(w in error for w in words), (words, error)
    assert not osp.exists(tmp_path / 'o.pth')
