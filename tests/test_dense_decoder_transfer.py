"""A dense pretext checkpoint's backbone AND decoder go to the mmseg segmenter with the same
decode head: strictly, tensor for tensor; PLR's classifier left out and named; another decoder
refused in one line."""
import pytest
import torch
from mmengine.config import Config

from mmsoco.converters.soco_checkpoint import SoCoCheckpointError
from mmsoco.converters.to_mmseg import build_segmentor
from mmsoco.converters.to_mmseg_decoder import (check_decoder_against_segmentor,
                                                convert_dense_state_dict)
from mmsoco.registry import MODELS
from transfer_utils import REPO

FCN = 'fcn-d6_r50-d16_soco-100e_4xb4-coslr-30k_voc12aug-513x513.py'
PSP = 'pspnet_r50-d8_soco-100e_4xb4-coslr-30k_voc12aug-512x512.py'
DLV3 = 'deeplabv3plus_r50-d8_soco-100e_4xb4-coslr-30k_voc12aug-512x512.py'
NL = 'nonlocal_r50-d8_soco-100e_4xb4-coslr-30k_voc12aug-512x512.py'
#: case -> (pretext model, segmentation config with its decoder, backbone tensors, decode head
#: tensors, whether the pretext model takes that config's backbone and decode head). DeepLabV3+
#: and Non-local have no pretext config of their own: PLR takes the segmentation config's.
CASES = {
    'plr-fcn-d6': ('plr_r50-d16_fcn-d6.py', FCN, 318, 12, False),
    'edmoco-psp': ('edmoco_r50-d8_psp.py', PSP, 318, 30, False),
    'plr-deeplabv3plus': ('plr_r50-d8_psp.py', DLV3, 318, 84, True),
    'plr-nonlocal': ('plr_r50-d8_psp.py', NL, 318, 30, True),
}


def pretext_state(name, seed=0, decoder_of=None):
    """A pretext model's state dict, every tensor distinguishable from a fresh init.

    Args:
        name (str): A file of ``configs/_base_/models``.
        decoder_of (str, optional): A segmentation config whose backbone and decode head (with
            4 classes) replace the model's.
    """
    torch.manual_seed(seed)
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/{name}').model
    if decoder_of:
        seg = Config.fromfile(f'{REPO}/configs/segmentation/{decoder_of}').model
        cfg.backbone.backbone = dict(seg.backbone, init_cfg=None)
        cfg.backbone.decode_head = dict(seg.decode_head, num_classes=4)
    if cfg.type == 'EDMoCo':
        cfg.queue_len = 256
    state = MODELS.build(cfg).state_dict()
    return {k: (v + torch.rand_like(v) if v.is_floating_point() else v + 7)
            for k, v in state.items()}


def _seg(config):
    cfg = Config.fromfile(f'{REPO}/configs/segmentation/{config}')
    return cfg, build_segmentor(cfg)


@pytest.mark.parametrize('case', sorted(CASES))
def test_encoder_decoder_loads_strictly_into_the_segmenter(case):
    pretext, config, n_backbone, n_head, takes_decoder = CASES[case]
    state = pretext_state(pretext, decoder_of=config if takes_decoder else None)
    conv = convert_dense_state_dict(state)
    assert conv.counts == (n_backbone, n_head)
    cfg, seg = _seg(config)
    check_decoder_against_segmentor(conv, cfg, seg)
    missing, unexpected = seg.load_state_dict(conv.state_dict, strict=False)
    assert not unexpected
    fresh = ('decode_head.conv_seg.', 'auxiliary_head.')  # (torch does not list BN counters)
    assert sorted(missing) == sorted(k for k in seg.state_dict() if k.startswith(fresh)
                                     and not k.endswith('num_batches_tracked'))
    loaded = seg.state_dict()
    for src, dst in conv.mapped:  # tensor for tensor
        assert torch.equal(loaded[dst], state[src]), dst
    left = dict(conv.left_out)
    if pretext.startswith('plr'):
        assert set(left) == {'backbone.decode_head.conv_seg.weight',
                             'backbone.decode_head.conv_seg.bias'}
        assert '4 rotation angles' in left['backbone.decode_head.conv_seg.weight']
    else:  # EDMoCo: no classifier; the key encoder, projector and queue stay behind
        assert {k.split('.')[0] for k in left} == {'encoder_k', 'neck', 'queue', 'queue_ptr'}
    assert 'classifier' in conv.summary()


def test_another_decoder_is_refused_in_one_line():
    conv = convert_dense_state_dict(pretext_state('plr_r50-d16_fcn-d6.py'))
    cfg, seg = _seg(PSP)
    with pytest.raises(SoCoCheckpointError,
                       match=r"^the checkpoint pretrained a FCNHead decoder but the config's "
                       r'decode head is PSPHead: use a segmentation config with a FCNHead head'):
        check_decoder_against_segmentor(conv, cfg, seg)
    # the same head type with other channels: the strict check names the tensors
    cfg, seg = _seg('fcn_r50-d8_soco-100e_4xb4-20k_voc12aug-512x512.py')
    with pytest.raises(SoCoCheckpointError,
                       match='shape mismatch: decode_head.convs.0.conv.weight'):
        check_decoder_against_segmentor(conv, cfg, seg)


def test_soco2mmseg_writes_backbone_and_decoder(tmp_path, run_tool, capsys):
    """The tool: a Runner-style PLR checkpoint -> backbone + decode head, checked against the
    config; the saved file loads into the segmenter by load_from's non-strict loader."""
    state = pretext_state('plr_r50-d16_fcn-d6.py')
    src, dst = str(tmp_path / 'epoch_20.pth'), str(tmp_path / 'plr_mmseg.pth')
    torch.save({'state_dict': state, 'meta': {}}, src)
    seg_config = f'{REPO}/configs/segmentation/{FCN}'
    run_tool(f'{REPO}/tools/model_converters/soco2mmseg.py', src, dst, '--config', seg_config)
    out = capsys.readouterr().out
    assert '318  backbone.* (the ResNet)' in out and '12  decode_head.* (the FCNHead decoder)' \
        in out and '2  backbone.decode_head.conv_seg.*: the pretext task' in out
    saved = torch.load(dst)
    assert saved['meta']['dense_pretext_transfer']['decode_head_tensors'] == 12
    assert torch.equal(saved['state_dict']['decode_head.convs.1.conv.weight'],
                       state['backbone.decode_head.convs.1.conv.weight'])
    with pytest.raises(SystemExit, match=r'epoch_20.pth: the checkpoint pretrained a FCNHead '
                       r"decoder but the config's decode head is PSPHead"):
        run_tool(f'{REPO}/tools/model_converters/soco2mmseg.py', src, dst, '--config',
                 f'{REPO}/configs/segmentation/{PSP}')


def test_source_target_converts_edmocos_key_encoder():
    state = pretext_state('edmoco_r50-d8_psp.py')
    conv = convert_dense_state_dict(state, source='target')
    assert conv.counts == (318, 30)
    assert torch.equal(conv.state_dict['decode_head.bottleneck.conv.weight'],
                       state['encoder_k.module.0.decode_head.bottleneck.conv.weight'])
    assert dict(conv.left_out)['backbone.backbone.conv1.weight'].startswith(
        'the query encoder-decoder')
    with pytest.raises(SoCoCheckpointError, match='--source target converts the key encoder of '
                       r'EDMoCo .*this checkpoint has none \(PLR\)'):
        convert_dense_state_dict(pretext_state('plr_r50-d16_fcn-d6.py'), source='target')
