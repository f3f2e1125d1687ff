"""The start of a dense pretext run (``init2soco.py --config configs/dense/...``): an existing
ResNet fills the encoder-decoder's ResNet (and EDMoCo's key encoder: key = query at step 0), the
new decoder starts fresh and the converter says so, another depth is one line."""
import os.path as osp

import pytest
import torch
import torchvision
from mmengine.config import Config

from mmsoco.converters.init_checkpoint import InitCheckpointError, convert_init_checkpoint
from mmsoco.converters.init_layouts import read_checkpoint
from mmsoco.registry import MODELS
from transfer_utils import REPO

DENSE = osp.join(REPO, 'configs', 'dense')
PLR = 'plr_resnet50-d16-fcn-d6_8xb32-coslr-20e_voc0712-init.py'
EDMOCO = 'edmoco_resnet50-d8-psp_8xb32-coslr-20e_voc0712-init.py'


def tiny(config, depth=18):
    """The config at ResNet-18 (512 channels into the decoder), plain BN, a short queue."""
    cfg = Config.fromfile(osp.join(DENSE, config))
    ed = cfg.model.backbone
    ed.backbone.update(depth=depth, norm_cfg=dict(type='BN'))
    ed.decode_head.update(in_channels=512 if depth < 50 else 2048, norm_cfg=dict(type='BN'))
    if cfg.model.type == 'EDMoCo':
        cfg.model.queue_len = 64
    return cfg


def torchvision_file(tmp_path, depth=18):
    torch.manual_seed(depth)
    net = getattr(torchvision.models, f'resnet{depth}')()
    state = {k: v + torch.rand_like(v) if v.is_floating_point() else v
             for k, v in net.state_dict().items()}
    path = str(tmp_path / f'tv_r{depth}.pth')
    torch.save(state, path)
    return path, state


def test_plr_start_fills_the_encoder_and_leaves_the_decoder_fresh(tmp_path):
    src, tv = torchvision_file(tmp_path)
    cfg = tiny(PLR)
    dst = str(tmp_path / 'start.pth')
    conv = convert_init_checkpoint(src, cfg, dst)
    assert conv.new == ['backbone.decode_head']
    assert 'backbone.decode_head: the decoder starts fresh' in conv.summary()
    assert dict(conv.left_out) == {'fc.weight': 'the ImageNet classifier: no counterpart in '
                                   'PatchRotation', 'fc.bias': 'the ImageNet classifier: no '
                                   'counterpart in PatchRotation'}
    start = read_checkpoint(dst)['state_dict']
    model = MODELS.build(cfg.model)
    missing, unexpected = model.load_state_dict(start, strict=False)
    assert not unexpected and missing
    assert all(k.startswith('backbone.decode_head.') for k in missing)
    for key, value in tv.items():
        if not key.startswith('fc.'):
            assert torch.equal(model.state_dict()['backbone.backbone.' + key], value), key


def test_edmoco_start_from_moco_key_encoder_equals_query(tmp_path):
    """An mmselfsup MoCo v2 checkpoint: its backbone fills the query and key encoders' ResNet,
    its key encoder and queue are left out; key = query before and after the first step."""
    import mmselfsup
    torch.manual_seed(0)
    moco_cfg = Config.fromfile(osp.join(osp.dirname(mmselfsup.__file__), '.mim', 'configs',
                                        'selfsup/_base_/models/mocov2.py')).model
    moco_cfg.backbone.depth = 18
    moco_cfg.neck.in_channels = 512
    moco_cfg.queue_len = 64
    moco = MODELS.build(moco_cfg).state_dict()
    moco = {k: v + torch.rand_like(v) if v.is_floating_point() else v for k, v in moco.items()}
    src = str(tmp_path / 'mocov2.pth')
    torch.save({'state_dict': moco, 'meta': {}}, src)
    cfg = tiny(EDMOCO)
    conv = convert_init_checkpoint(src, cfg, str(tmp_path / 'start.pth'))
    assert conv.algorithm == 'MoCo'
    left = {k.split('.')[0] for k, _ in conv.left_out}
    assert left == {'encoder_k', 'neck', 'head', 'queue', 'queue_ptr'} - {'head'}
    assert set(conv.new) == {'neck', 'queue', 'queue_ptr', 'backbone.decode_head'}
    start = conv.state_dict
    assert int(start['encoder_k.steps']) == 0
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.load_state_dict(start, strict=False)
    state = model.state_dict()
    resnet = [k for k in state if k.startswith('backbone.backbone.')]
    assert len(resnet) == len([k for k in moco if k.startswith('backbone.')])
    for key in resnet:   # query = key = the source's backbone
        rest = key[len('backbone.backbone.'):]
        assert torch.equal(state[key], moco['backbone.' + rest])
        assert torch.equal(state['encoder_k.module.0.backbone.' + rest], state[key])
    model.loss([torch.randn(4, 3, 64, 64), torch.randn(4, 3, 64, 64)], [None] * 4)
    # the first update copies every query parameter (the decoder's too); BN statistics then move
    # with each encoder's own batch, as in MoCo
    after = model.state_dict()
    for key, _ in model.named_parameters():
        if key.startswith(('backbone.', 'neck.')):
            module = '0.' if key.startswith('backbone.') else '1.'
            copy = 'encoder_k.module.' + module + key.split('.', 1)[1]
            assert torch.equal(after[copy], after[key]), key


def test_another_depth_is_one_line(tmp_path):
    src, _ = torchvision_file(tmp_path, depth=18)
    with pytest.raises(InitCheckpointError,
                       match=r"the source is a ResNet-18, the config's model a ResNet-50"):
        convert_init_checkpoint(src, Config.fromfile(osp.join(DENSE, PLR)))
