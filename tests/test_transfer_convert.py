"""SoCo -> MMDetection / Detectron2 converters, bad input, and the Mini COCO subset tool."""
import json
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config

from mmsoco.converters import (SoCoCheckpointError, convert_soco_checkpoint, convert_state_dict,
                               convert_to_detectron2, detect_variant, layout_for,
                               layout_from_config, load_detectron2_pickle, make_mini_coco,
                               mini_coco_name, save_detectron2_pickle, split_networks)
from transfer_utils import (REPO, TRANSFER_CONFIGS, TRANSFER_DIR, expected_transfer,
                            save_like_mmengine, soco_state_dict, transfer_layout)

SOCO2MMDET = osp.join(REPO, 'tools', 'model_converters', 'soco2mmdet.py')
SOCO2D2 = osp.join(REPO, 'tools', 'model_converters', 'soco2detectron2.py')
MINI_COCO = osp.join(REPO, 'tools', 'dataset_converters', 'mini_coco.py')


def _state(variant):
    return soco_state_dict(variant)  # cached in transfer_utils


@pytest.fixture(scope='module')
def soco_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('soco')
    return {v: save_like_mmengine(_state(v), str(root / f'soco_{v}.pth')) for v in ('fpn', 'c4')}


# --------------------------------------------------------------------------- the SoCo layout
@pytest.mark.parametrize('variant', ['fpn', 'c4'])
def test_real_soco_model_has_the_layout_the_converter_reads(variant):
    """The registered SoCo model's state dict: online modules, predictor, their target copies."""
    state = _state(variant)
    online = ('backbone', 'neck', 'head', 'projector') if variant == 'fpn' else (
        'backbone', 'head', 'projector')
    online_keys = [k for k in state if k.split('.')[0] in online]
    target_keys = [f'target_net.module.{k}' for k in online_keys]
    predictor_keys = [k for k in state if k.startswith('predictor.')]
    assert predictor_keys and sorted(state) == sorted(online_keys + target_keys +
                                                      predictor_keys + ['target_net.steps'])
    assert all(state[k].shape == state[f'target_net.module.{k}'].shape for k in online_keys)
    levels = {k.split('.')[2] for k in online_keys if k.startswith('neck.')}
    stages = {k.split('.')[1] for k in online_keys if k.startswith('backbone.layer')}
    if variant == 'fpn':  # P2-P5 with BN, ResNet stages 1-4, the 4conv1fc box head
        assert levels == {'0', '1', '2', '3'} and 'neck.lateral_convs.0.bn.weight' in state
        assert stages == {'layer1', 'layer2', 'layer3', 'layer4'}
        assert state['head.shared_fcs.0.weight'].shape == (1024, 256 * 7 * 7)
        assert 'head.shared_convs.3.conv.weight' in state
    else:  # C4: ResNet stages 1-3, res5 is the head
        assert not levels and stages == {'layer1', 'layer2', 'layer3'}
        assert state['head.layer4.2.conv3.weight'].shape == (2048, 512, 1, 1)


@pytest.mark.parametrize('variant', ['fpn', 'c4'])
def test_variant_is_read_from_the_keys(variant):
    online, rest = split_networks(_state(variant), 'online')
    assert detect_variant(online) == variant
    target, rest_t = split_networks(_state(variant), 'target')
    assert detect_variant(target) == variant
    assert set(target) < set(online) and 'predictor.fc1.weight' in rest_t


# --------------------------------------------------------------------------- to MMDetection
@pytest.mark.parametrize('variant,det', [('fpn', 'rcnn'), ('fpn', 'retinanet'),
                                         ('fpn', 'fcos'), ('c4', 'rcnn')])
def test_conversion_maps_exactly_the_pretrained_layers(variant, det):
    state = _state(variant)
    conv = convert_state_dict(state, det=det)
    online = split_networks(state)[0]
    pairs = expected_transfer(online, variant, det)
    assert [(s, d) for s, d, _ in conv.mapped] == pairs
    assert list(conv.state_dict) == [d for _, d in pairs]
    for src, dst in pairs:
        assert torch.equal(conv.state_dict[dst], state[src]), dst
    left = {k for k, _ in conv.left_out}
    assert left == set(state) - {s for s, _ in pairs}
    assert not any(k.startswith(('projector.', 'predictor.', 'target_net.'))
                   for k in conv.state_dict)


def test_one_stage_detectors_take_p3_to_p5_at_shifted_indices():
    state = _state('fpn')
    conv = convert_state_dict(state, det='fcos')
    sd = conv.state_dict
    for i, j in ((0, 1), (1, 2), (2, 3)):  # mmdet index i (start_level=1) <- SoCo index j
        assert torch.equal(sd[f'neck.lateral_convs.{i}.conv.weight'],
                           state[f'neck.lateral_convs.{j}.conv.weight'])
        assert torch.equal(sd[f'neck.fpn_convs.{i}.conv.weight'],
                           state[f'neck.fpn_convs.{j}.conv.weight'])
    # P6/P7 (fpn_convs.3/.4) stay fresh: nothing, and in particular not P5, lands there
    assert not any(k.startswith(('neck.fpn_convs.3', 'neck.fpn_convs.4', 'neck.lateral_convs.3'))
                   for k in sd)
    reasons = dict(conv.left_out)
    assert 'P2' in reasons['neck.lateral_convs.0.conv.weight']
    assert 'no 4conv1fc box head' in reasons['head.shared_fcs.0.weight']
    summary = conv.summary()
    assert 'neck.fpn_convs.3.* (P5) -> neck.fpn_convs.2.*' in summary
    assert 'P6/P7' in summary


def test_target_network_on_request():
    state = _state('fpn')
    conv = convert_state_dict(state, source='target')
    assert torch.equal(conv.state_dict['backbone.conv1.weight'],
                       state['target_net.module.backbone.conv1.weight'])
    assert torch.equal(conv.state_dict['roi_head.bbox_head.shared_fcs.0.weight'],
                       state['target_net.module.head.shared_fcs.0.weight'])
    assert not torch.equal(conv.state_dict['backbone.conv1.weight'],
                           state['backbone.conv1.weight'])
    left = dict(conv.left_out)
    assert 'online network' in left['backbone.conv1.weight']
    assert 'step counter' in left['target_net.steps']


@pytest.mark.parametrize('config', TRANSFER_CONFIGS)
def test_every_transfer_config_declares_its_layout(config):
    variant, det = transfer_layout(config)
    layout = layout_from_config(osp.join(TRANSFER_DIR, config))
    expected = layout_for(variant, det)
    assert (layout.variant, layout.fpn_start_level, layout.box_head) == \
        (expected.variant, expected.fpn_start_level, expected.box_head)
    cfg = Config.fromfile(osp.join(TRANSFER_DIR, config))
    # mmdet's scope; mmsoco is imported for its hook and C4 head, and must not fail silently
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports == dict(imports=['mmsoco'], allow_failed_imports=False)
    assert cfg.model.backbone.init_cfg is None, 'nothing may be downloaded'
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    assert not cfg.model.backbone.norm_eval and cfg.model.backbone.frozen_stages == -1
    # the file the docs' convert commands write for this layout
    assert cfg.load_from == {('fpn', 'rcnn'): 'checkpoints/soco_r50-fpn_mmdet-rcnn.pth',
                             ('fpn', 'retinanet'): 'checkpoints/soco_r50-fpn_mmdet-retinanet.pth',
                             ('fpn', 'fcos'): 'checkpoints/soco_r50-fpn_mmdet-fcos.pth',
                             ('c4', 'rcnn'): 'checkpoints/soco_r50-c4_mmdet.pth'}[variant, det]


# --------------------------------------------------------------------------- bad input
def test_a_checkpoint_that_is_not_soco_is_refused(tmp_path):
    from mmdet.models.backbones import ResNet
    resnet = {f'backbone.{k}': v for k, v in ResNet(depth=18).state_dict().items()}
    byol_like = dict(resnet, **{'neck.mlp.0.weight': torch.zeros(4, 4)})
    detector = dict(resnet, **{'roi_head.bbox_head.fc_cls.weight': torch.zeros(81, 4)})
    for state, hint in ((resnet, 'backbone-only'), (byol_like, None), (detector, 'MMDetection')):
        with pytest.raises(SoCoCheckpointError) as e:
            convert_state_dict(state)
        msg = str(e.value)
        assert 'not a SoCo checkpoint' in msg and "'neck.lateral_convs.*'" in msg
        assert "'head.layer4.*'" in msg and 'found backbone.*' in msg
        if hint:
            assert hint in msg
    torch.save([1, 2, 3], tmp_path / 'list.pth')
    with pytest.raises(SoCoCheckpointError, match='not a checkpoint dict'):
        convert_soco_checkpoint(str(tmp_path / 'list.pth'))


def test_the_wrong_variant_is_refused():
    with pytest.raises(SoCoCheckpointError, match=r'--variant expects a SoCo R50-FPN .* this is '
                       r'a SoCo R50-C4'):
        convert_state_dict(_state('c4'), variant='fpn')
    with pytest.raises(SoCoCheckpointError, match='retinanet needs the SoCo R50-FPN checkpoint'):
        convert_state_dict(_state('c4'), det='retinanet')
    with pytest.raises(SoCoCheckpointError, match="no 'target_net.module.\\*' keys"):
        convert_state_dict({k: v for k, v in _state('fpn').items()
                            if not k.startswith('target_net.')}, source='target')


@pytest.mark.parametrize('variant,config', [
    ('c4', 'mask-rcnn_r50_fpn_soco-100e_1x_coco.py'),
    ('fpn', 'faster-rcnn_r50-c4_soco-100e_ms-18k_voc0712.py'),
])
def test_the_wrong_variant_for_a_config_is_refused(soco_files, variant, config):
    other = 'FPN' if variant == 'c4' else 'C4'
    with pytest.raises(SoCoCheckpointError) as e:
        convert_soco_checkpoint(soco_files[variant], config=osp.join(TRANSFER_DIR, config))
    msg = str(e.value)
    assert f'expects a SoCo R50-{other} checkpoint' in msg
    assert f'this is a SoCo R50-{variant.upper()} checkpoint' in msg


def test_det_and_config_must_agree(soco_files):
    with pytest.raises(SoCoCheckpointError, match='--det rcnn converts for .* but the config is '
                       'RetinaNet R50-FPN'):
        convert_soco_checkpoint(soco_files['fpn'], det='rcnn', config=osp.join(
            TRANSFER_DIR, 'retinanet_r50_fpn_soco-100e_1x_coco.py'))


def test_a_config_whose_layers_differ_from_pretraining_is_refused(soco_files):
    cfg = Config.fromfile(osp.join(TRANSFER_DIR, 'mask-rcnn_r50_fpn_soco-100e_1x_coco.py'))
    cfg.model.neck.norm_cfg = None  # SoCo's FPN has BN: a norm-free FPN has no place for it
    with pytest.raises(SoCoCheckpointError, match='does not fit .* not in the detector: '
                       'neck.lateral_convs.0.bn'):
        convert_soco_checkpoint(soco_files['fpn'], config=cfg)


# --------------------------------------------------------------------------- command lines
def test_soco2mmdet_cli(soco_files, tmp_path, capsys, run_tool):
    out = str(tmp_path / 'checkpoints' / 'fcos.pth')        # the folder is created
    run_tool(SOCO2MMDET, soco_files['fpn'], out, '--config',
             osp.join(TRANSFER_DIR, 'fcos_r50_fpn_gn-head_soco-100e_1x_coco.py'))
    printed = capsys.readouterr().out
    assert 'online network -> FCOS R50-FPN (P3-P7)' in printed
    assert 'neck.lateral_convs.1.* (P3) -> neck.lateral_convs.0.*' in printed
    assert 'projector.*: projector MLP' in printed and 'left out' in printed
    assert '1  target_net.steps: EMA step counter' in printed
    assert 'freshly initialised in the detector: the detection head; the FPN extra convs P6/P7' \
        in printed
    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    assert ckpt['meta']['soco_transfer']['fpn_start_level'] == 1
    assert torch.equal(ckpt['state_dict']['neck.fpn_convs.2.conv.weight'],
                       _state('fpn')['neck.fpn_convs.3.conv.weight'])

    run_tool(SOCO2MMDET, soco_files['c4'], str(tmp_path / 'c4.pth'), '--source', 'target',
             '--verbose')
    printed = capsys.readouterr().out
    assert 'target_net.module.head.layer4.0.conv1.weight -> ' \
        'roi_head.shared_head.layer4.0.conv1.weight' in printed


def test_soco2mmdet_cli_bad_input_exits_with_the_reason(soco_files, tmp_path, run_tool):
    with pytest.raises(SystemExit) as e:
        run_tool(SOCO2MMDET, soco_files['c4'], str(tmp_path / 'x.pth'), '--det', 'fcos')
    assert 'soco2mmdet: error' in str(e.value) and 'needs the SoCo R50-FPN' in str(e.value)
    assert not (tmp_path / 'x.pth').exists()


@pytest.mark.parametrize('tool', [SOCO2MMDET, SOCO2D2], ids=osp.basename)
def test_a_missing_or_non_torch_file_is_one_line(tool, tmp_path, run_tool):
    name = osp.basename(tool)[:-len('.py')]
    missing = str(tmp_path / 'work_dirs' / 'epoch_100.pth')
    with pytest.raises(SystemExit) as e:
        run_tool(tool, missing, str(tmp_path / 'out.pth'))
    assert str(e.value).startswith(f'{name}: error: {missing} does not exist')
    assert '\n' not in str(e.value)
    notes = tmp_path / 'notes.pth'
    notes.write_text('epoch 100: loss 0.31, lr 0.002\n' * 20)
    with pytest.raises(SystemExit) as e:
        run_tool(tool, str(notes), str(tmp_path / 'out.pth'))
    assert str(e.value).startswith(f'{name}: error: {notes}') and \
        'is not a readable torch checkpoint' in str(e.value) and '\n' not in str(e.value)
    assert not (tmp_path / 'out.pth').exists()


# --------------------------------------------------------------------------- to Detectron2
@pytest.mark.parametrize('variant', ['fpn', 'c4'])
def test_detectron2_pickle_round_trips(soco_files, tmp_path, variant):
    payload, mapped, left_out, found = convert_to_detectron2(soco_files[variant])
    assert found == variant
    assert payload['__author__'] == 'mmsoco' and payload['matching_heuristics'] is True
    names = set(payload['model'])
    assert {'stem.conv1.weight', 'stem.conv1.norm.running_var', 'res2.0.conv1.norm.weight',
            'res2.0.shortcut.weight', 'res2.0.shortcut.norm.bias',
            'res5.0.conv3.norm.weight'} <= names
    if variant == 'fpn':
        assert {'fpn_lateral2.weight', 'fpn_lateral5.norm.bias', 'fpn_output2.weight',
                'box_head.conv1.weight', 'box_head.conv4.norm.running_mean',
                'box_head.fc1.weight'} <= names
    path = str(tmp_path / 'd2.pkl')
    save_detectron2_pickle(payload, path)
    with open(path, 'rb') as f:
        raw = pickle.load(f)
    assert all(type(v).__module__ == 'numpy' for v in raw['model'].values())
    back = load_detectron2_pickle(path, variant)
    online = split_networks(_state(variant))[0]
    transferred = [k for k in online if not k.startswith(('projector.', 'predictor.'))]
    assert list(back) == transferred
    for k in transferred:
        assert back[k].dtype == online[k].dtype and torch.equal(back[k], online[k]), k
    assert {k for k in left_out} == set(_state(variant)) - set(transferred)


def test_soco2detectron2_cli(soco_files, tmp_path, capsys, run_tool):
    out = str(tmp_path / 'd2' / 'c4.pkl')                   # the folder is created
    run_tool(SOCO2D2, soco_files['c4'], out)
    printed = capsys.readouterr().out
    assert 'SoCo R50-C4 checkpoint, online network -> Detectron2' in printed
    assert 'STRIDE_IN_1X1 False' in printed
    with open(out, 'rb') as f:
        assert 'res5.2.conv3.weight' in pickle.load(f)['model']
    with pytest.raises(SystemExit, match='expects a SoCo R50-FPN'):
        run_tool(SOCO2D2, soco_files['c4'], out, '--variant', 'fpn')


# --------------------------------------------------------------------------- Mini COCO
def _coco(n_images=200):
    images = [dict(id=1000 + i, file_name=f'{i:012d}.jpg', width=640, height=480)
              for i in range(n_images)]
    anns = [dict(id=j, image_id=1000 + j % n_images, category_id=1 + j % 3, bbox=[0, 0, 9, 9],
                 area=81, iscrowd=0) for j in range(3 * n_images)]
    return dict(info=dict(year=2017), licenses=[], images=images, annotations=anns,
                categories=[dict(id=i, name=f'c{i}') for i in (1, 2, 3)])


def test_mini_coco_is_a_fixed_nested_random_subset():
    coco = _coco()
    five, ten = make_mini_coco(coco, 0.05), make_mini_coco(coco, 0.10)
    assert len(five['images']) == 10 and len(ten['images']) == 20
    ids5, ids10 = {i['id'] for i in five['images']}, {i['id'] for i in ten['images']}
    assert ids5 < ids10
    assert ids5 != {1000 + i for i in range(10)}  # random, not the first images
    assert make_mini_coco(coco, 0.05) == five  # fixed seed
    assert {i['id'] for i in make_mini_coco(coco, 0.05, seed=1)['images']} != ids5
    assert all(a['image_id'] in ids5 for a in five['annotations'])
    assert len(five['annotations']) == 3 * 10
    assert five['categories'] == coco['categories']
    assert five['info']['mini_coco'] == dict(fraction=0.05, seed=0, num_images=10)
    with pytest.raises(ValueError):
        make_mini_coco(coco, 0.)


def test_mini_coco_cli_writes_the_files_the_configs_read(tmp_path, capsys, run_tool):
    ann = tmp_path / 'instances_train2017.json'
    ann.write_text(json.dumps(_coco()))
    run_tool(MINI_COCO, str(ann))
    for pct in ('5p', '10p'):
        path = tmp_path / f'instances_train2017_mini-{pct}.json'
        assert path.exists() and mini_coco_name(str(ann), int(pct[:-1]) / 100) == path.name
        cfg = Config.fromfile(osp.join(TRANSFER_DIR,
                                       f'mask-rcnn_r50_fpn_soco-100e_1x_mini-coco-{pct}.py'))
        assert cfg.train_dataloader.dataset.ann_file == f'annotations/{path.name}'
    assert 'wrote' in capsys.readouterr().out
