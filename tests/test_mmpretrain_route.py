"""SoCo on MMPretrain (configs/mmpretrain/): the host choice, the demo trained without mmselfsup,
the same loss as on mmselfsup, and its checkpoint through the converters.

mmselfsup and mmpretrain cannot share a process, and this one runs on mmselfsup (conftest.py), so
each mmpretrain run is a subprocess (tests/route_probe.py).  Skipped, with the reason, when
mmpretrain is not installed.
"""
import glob
import importlib
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmsoco.registry import HOSTS, BlockedHost, check_default_scope, choose_host
from mmsoco.testing import REPO, TINY_FPN_OPTIONS, free_port, installed

PROBE = osp.join(REPO, 'tests', 'route_probe.py')
DEMO = 'soco_resnet50-fpn_1xb4-coslr-2e_demo.py'
IN1K = 'soco_resnet50-fpn_16xb128-coslr-100e_in1k.py'
SELFSUP_DEMO = osp.join(REPO, 'configs', 'soco', DEMO)
PRETRAIN_DEMO = osp.join(REPO, 'configs', 'mmpretrain', DEMO.replace('.py', '_mmpretrain.py'))
PLR = 'plr_resnet50-d16-fcn-d6_8xb32-coslr-200e_in1k.py'
COCO128 = osp.join(osp.dirname(REPO), 'shared', 'datasets', 'coco128', 'images', 'train2017')
TOOLS = osp.join(REPO, 'tools', 'model_converters')


def _on_mmpretrain(name: str) -> str:
    """The MMPretrain twin of an MMSelfSup config name (a name of its own, so that ``mim train
    mmsoco NAME`` finds one file)."""
    return name.replace('.py', '_mmpretrain.py')


needs_mmpretrain = pytest.mark.skipif(
    not installed('mmpretrain'),
    reason='mmpretrain is not installed (tools/setup_env.sh installs it; requirements/pins.txt)')


def _env():
    return dict(os.environ, OMP_WAIT_POLICY='PASSIVE', OMP_NUM_THREADS='1',
                PYTHONPATH=os.pathsep.join([REPO, os.environ.get('PYTHONPATH', '')]))


def _probe(*args):
    """Run tests/route_probe.py in a fresh process: its report, and its output for messages."""
    proc = subprocess.run([sys.executable, PROBE, *args], capture_output=True, text=True,
                          env=_env(), cwd=REPO)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith('ROUTE_PROBE ')]
    return json.loads(line[len('ROUTE_PROBE '):]), out


# --------------------------------------------------------------------------- choosing the host
def test_the_host_is_the_imported_one_then_mmsoco_host_then_mmselfsup():
    both = lambda name: True  # noqa: E731  (both hosts installed)
    assert choose_host({}, {}, both) == 'mmselfsup'
    assert choose_host({}, {}, lambda name: name == 'mmpretrain') == 'mmpretrain'
    assert choose_host({'MMSOCO_HOST': 'mmpretrain'}, {}, both) == 'mmpretrain'
    assert choose_host({}, {'mmpretrain': object()}, both) == 'mmpretrain'
    pretrain = {'MMSOCO_HOST': 'mmpretrain'}
    assert choose_host(pretrain, {'mmpretrain': object()}, both) == 'mmpretrain'
    with pytest.raises(ImportError, match='MMSOCO_HOST=mmselfsup but mmpretrain is already'):
        choose_host({'MMSOCO_HOST': 'mmselfsup'}, {'mmpretrain': object()}, both)
    with pytest.raises(ValueError, match="MMSOCO_HOST='mmcls': use one of mmselfsup, mmpretrain"):
        choose_host({'MMSOCO_HOST': 'mmcls'}, {}, both)
    with pytest.raises(ImportError, match='both imported'):
        choose_host({}, {h: object() for h in HOSTS}, both)
    with pytest.raises(ImportError, match='needs mmselfsup 1.0.0 or mmpretrain 1.2.0'):
        choose_host({}, {}, lambda name: False)


def test_only_mmsoco_host_imports_a_host_library():
    """mmsoco's modules take host pieces from mmsoco/host.py: a direct import of mmselfsup, its
    mmcls or mmpretrain would break the other route."""
    import ast
    offending = []
    for path in glob.glob(osp.join(REPO, 'mmsoco', '**', '*.py'), recursive=True):
        if osp.relpath(path, REPO) == osp.join('mmsoco', 'host.py'):
            continue
        for node in ast.walk(ast.parse(open(path).read())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ''] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            offending += [f'{osp.relpath(path, REPO)}:{node.lineno} {n}' for n in names
                          if n.split('.')[0] in HOSTS + ('mmcls', )]
    assert not offending


def test_this_process_refuses_mmpretrain_with_the_reason():
    # mmdet's models import mmpretrain whenever it is installed: the hook makes that "not there"
    assert any(isinstance(f, BlockedHost) and f.name == 'mmpretrain' for f in sys.meta_path)
    with pytest.raises(ImportError, match='mmsoco runs on mmselfsup in this process, and '
                       'mmpretrain cannot be imported beside it'):
        importlib.import_module('mmpretrain.models')
    import mmdet.models  # noqa: F401
    assert sys.modules.get('mmpretrain') is None
    assert check_default_scope('mmselfsup') is None and check_default_scope('mmdet') is None
    assert 'set MMSOCO_HOST=mmpretrain' in check_default_scope('mmpretrain')


@needs_mmpretrain
def test_train_py_refuses_a_config_of_the_other_host_in_one_line(tmp_path):
    config = tmp_path / 'mmpretrain_scope_mmsoco_only.py'     # the host import left out
    config.write_text(f"_base_ = '{PRETRAIN_DEMO}'\n"
                      "custom_imports = dict(imports=['mmsoco'], allow_failed_imports=False)\n")
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), str(config),
                           '--check'], capture_output=True, text=True, env=_env(), cwd=REPO)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f"error: {config}: the config's default_scope is 'mmpretrain' but mmsoco registered into "
        "mmselfsup in this process: set MMSOCO_HOST=mmpretrain before the command (in a config "
        "of your own, list 'mmpretrain' before 'mmsoco' in custom_imports, as configs/mmpretrain/ "
        'do)']


# --------------------------------------------------------------------------- the configs
@needs_mmpretrain
@pytest.mark.parametrize('name', [IN1K, DEMO])
def test_the_mmpretrain_configs_are_the_mmselfsup_ones_on_another_host(name):
    # loaded without their custom imports: this process must not import mmpretrain
    ours = Config.fromfile(osp.join(REPO, 'configs', 'mmpretrain', _on_mmpretrain(name)),
                           import_custom_modules=False).to_dict()
    theirs = Config.fromfile(osp.join(REPO, 'configs', 'soco', name),
                             import_custom_modules=False).to_dict()
    assert ours['default_scope'] == 'mmpretrain' and theirs['default_scope'] == 'mmselfsup'
    assert ours['custom_imports']['imports'] == ['mmpretrain', 'mmsoco']
    # the one model difference: mmpretrain's ResNet does not count the stem as an output
    assert ours['model']['backbone'].pop('out_indices') == (0, 1, 2, 3)
    assert theirs['model']['backbone'].pop('out_indices') == (1, 2, 3, 4)
    for part in ('model', 'train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                 'auto_scale_lr'):
        assert ours.get(part) == theirs.get(part), part
    runner_default = dict(seed=None, deterministic=False)   # mmpretrain's runtime spells it out
    assert ours['randomness'] == dict(runner_default, **theirs.get('randomness', {}))
    for hook in ('logger', 'checkpoint', 'data_fallbacks'):
        mine, other = dict(ours['default_hooks'][hook]), dict(theirs['default_hooks'][hook])
        assert mine.pop('_scope_', None) in (None, 'mmpretrain')
        assert other.pop('_scope_', None) in (None, 'mmselfsup')
        assert mine == other, hook
    assert ours['env_cfg']['dist_cfg'] == theirs['env_cfg']['dist_cfg']


def _without_scope(cfg):
    """A config part with mmengine's ``_scope_`` marks (set by ``pkg::`` bases) removed."""
    if isinstance(cfg, dict):
        return {k: _without_scope(v) for k, v in cfg.items() if k != '_scope_'}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_without_scope(v) for v in cfg)
    return cfg


@needs_mmpretrain
def test_the_mmpretrain_plr_config_is_the_dense_one_on_another_host():
    ours = Config.fromfile(osp.join(REPO, 'configs', 'mmpretrain', _on_mmpretrain(PLR)),
                           import_custom_modules=False).to_dict()
    theirs = Config.fromfile(osp.join(REPO, 'configs', 'dense', PLR),
                             import_custom_modules=False).to_dict()
    for part in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert _without_scope(ours[part]) == _without_scope(theirs[part]), part
    loader, other = ours['train_dataloader'], theirs['train_dataloader']
    assert [t['type'] for t in loader['dataset']['pipeline']] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'RandomPatchRotate', 'PackInputs']
    assert loader['dataset']['pipeline'][3] == other['dataset']['pipeline'][3]
    crop, their_crop = loader['dataset']['pipeline'][1], other['dataset']['pipeline'][1]
    assert (crop['scale'], crop['crop_ratio_range']) == (their_crop['size'], their_crop['scale'])


# --------------------------------------------------------------------------- the runs
@needs_mmpretrain
@pytest.mark.skipif(not osp.isdir(COCO128), reason=f'coco128 not at {COCO128}')
def test_plr_trains_on_mmpretrain_without_importing_mmselfsup(tmp_path):
    names = sorted(os.listdir(COCO128))[:4]
    (tmp_path / 'list.txt').write_text(''.join(f'{n} 0\n' for n in names))  # CustomDataset's
    report, out = _probe(
        'train', osp.join(REPO, 'configs', 'mmpretrain', _on_mmpretrain(PLR)),
        '--work-dir', str(tmp_path / 'w'),
        '--cfg-options', 'model.backbone.backbone.depth=18',       # ResNet-18, plain BN, 64 px
        'model.backbone.backbone.norm_cfg.type=BN', 'model.backbone.decode_head.in_channels=512',
        'model.backbone.decode_head.norm_cfg.type=BN', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.type=CustomDataset',
        f'train_dataloader.dataset.data_root={COCO128}',
        f'train_dataloader.dataset.ann_file={tmp_path / "list.txt"}',
        'train_dataloader.dataset.data_prefix.img_path=',
        'train_dataloader.dataset.pipeline.1.scale=64',
        'train_dataloader.dataset.pipeline.3.crop_size=64', 'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1')
    assert report == dict(host='mmpretrain',
                          imported=dict(mmselfsup=False, mmpretrain=True, mmcls=False))
    iters = re.findall(r'Epoch\(train\) +\[1\]\[\d/2\].* loss: ([0-9.]+) +acc', out)
    assert len(iters) == 2 and all(math.isfinite(float(v)) for v in iters), out[-2000:]


@pytest.fixture(scope='module')
def mmpretrain_run(tmp_path_factory):
    """The MMPretrain demo config, 2 iterations on 4 real photos, in a process of its own."""
    if not installed('mmpretrain'):
        pytest.skip('mmpretrain is not installed (tools/setup_env.sh installs it)')
    from data_prep.demo_collection import build_demo_collection
    from data_prep.generate_proposals import main as generate
    root = tmp_path_factory.mktemp('mmpretrain_route')
    data, work = str(root / 'data'), str(root / 'work')
    build_demo_collection(data, n_images=4)
    assert generate([osp.join(data, 'train'), '--out', osp.join(data, 'proposals.npz'),
                     '--workers', '1']) == 0
    report, out = _probe('train', PRETRAIN_DEMO, '--work-dir', work, '--cfg-options',
                         f'train_dataloader.dataset.data_root={data}/',
                         'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
                         'train_cfg.max_epochs=1')
    return dict(report=report, out=out, data=data, work=work, root=root,
                checkpoint=osp.join(work, 'epoch_1.pth'))


def test_the_demo_trains_on_mmpretrain_without_importing_mmselfsup(mmpretrain_run):
    assert mmpretrain_run['report'] == dict(
        host='mmpretrain', imported=dict(mmselfsup=False, mmpretrain=True, mmcls=False))
    [log] = glob.glob(osp.join(mmpretrain_run['work'], '*', '*.log'))
    iters = [ln for ln in open(log) if 'Epoch(train) [1][' in ln]
    assert len(iters) == 2 and all('loss_v1_v2' in ln and 'nan' not in ln for ln in iters)
    assert osp.isfile(mmpretrain_run['checkpoint'])


def test_the_loss_is_the_same_on_both_hosts(mmpretrain_run):
    batch = str(mmpretrain_run['root'] / 'batch.pth')
    selfsup, _ = _probe('loss', SELFSUP_DEMO, mmpretrain_run['checkpoint'], batch,
                        '--make-batch', mmpretrain_run['data'] + '/')
    pretrain, _ = _probe('loss', PRETRAIN_DEMO, mmpretrain_run['checkpoint'], batch)
    assert selfsup['host'] == 'mmselfsup' and not selfsup['imported']['mmpretrain']
    assert pretrain['host'] == 'mmpretrain' and not pretrain['imported']['mmselfsup']
    assert set(selfsup['losses']) == set(pretrain['losses']) >= {
        'loss_v1_v2', 'loss_v2_v1', 'loss_v1_v3', 'loss_v3_v1', 'momentum'}
    for key, value in selfsup['losses'].items():
        assert abs(pretrain['losses'][key] - value) <= 1e-6, (key, value, pretrain['losses'][key])
    print('same batch, same weights:', json.dumps(dict(mmselfsup=selfsup['losses'],
                                                       mmpretrain=pretrain['losses'])))


def test_init2soco_refuses_a_config_of_the_other_host_in_one_line(
        mmpretrain_run, tmp_path, run_tool):
    # build_soco_model (every converter that takes a pretraining config) checks the scope
    from mmsoco.converters import build_soco_model
    from mmsoco.converters.builder import ConfigHostError
    with pytest.raises(ConfigHostError, match="default_scope is 'mmpretrain' but mmsoco "
                       'registered into mmselfsup in this process: set MMSOCO_HOST=mmpretrain'):
        build_soco_model(osp.join(REPO, 'configs', 'mmpretrain', _on_mmpretrain(IN1K)))
    with pytest.raises(SystemExit, match='init2soco: error: .*set MMSOCO_HOST=mmpretrain'):
        run_tool(osp.join(TOOLS, 'init2soco.py'), mmpretrain_run['checkpoint'],
                 str(tmp_path / 'out.pth'), '--config', PRETRAIN_DEMO)
    assert not os.listdir(tmp_path)


def test_an_mmpretrain_checkpoint_converts_for_mmdet_and_mmseg(mmpretrain_run, tmp_path,
                                                               capsys, run_tool):
    ckpt = mmpretrain_run['checkpoint']
    online = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    # strictly checked by the tools against the detector / segmentor their config builds
    run_tool(osp.join(TOOLS, 'soco2mmdet.py'), ckpt, str(tmp_path / 'det.pth'), '--config',
             osp.join(REPO, 'configs', 'transfer', 'mask-rcnn_r50_fpn_soco-100e_1x_coco.py'))
    run_tool(osp.join(TOOLS, 'soco2mmseg.py'), ckpt, str(tmp_path / 'seg.pth'), '--with-neck',
             '--config', osp.join(REPO, 'configs', 'segmentation',
                                  'fpn_r50_soco-100e_4xb4-20k_voc12aug-512x512.py'))
    run_tool(osp.join(TOOLS, 'soco2detectron2.py'), ckpt, str(tmp_path / 'd2.pkl'))
    printed = capsys.readouterr().out
    assert printed.count('saved') >= 2
    det = torch.load(tmp_path / 'det.pth', map_location='cpu', weights_only=True)['state_dict']
    seg = torch.load(tmp_path / 'seg.pth', map_location='cpu', weights_only=True)['state_dict']
    for key in ('backbone.conv1.weight', 'backbone.layer4.2.bn3.running_var',
                'neck.fpn_convs.3.conv.weight'):
        assert torch.equal(det[key], online[key]) and torch.equal(seg[key], online[key]), key
    assert torch.equal(det['roi_head.bbox_head.shared_fcs.0.weight'],
                       online['head.shared_fcs.0.weight'])
    assert osp.getsize(tmp_path / 'd2.pkl') > 0


def test_dist_train_runs_the_mmpretrain_demo_on_two_processes(mmpretrain_run, tmp_path):
    """tools/dist_train.sh takes the MMPretrain configs: 2 gloo ranks (DEVICE=cpu), narrow layers,
    one iteration each; the run's config is MMPretrain's scope (train.py refuses a config whose
    host is not the one imported, so a rank that had imported mmselfsup would have stopped)."""
    work = str(tmp_path / 'work')
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), PRETRAIN_DEMO, '2', '--work-dir',
           work, '--cfg-options', f'train_dataloader.dataset.data_root={mmpretrain_run["data"]}/',
           'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
           'train_cfg.max_epochs=1', *TINY_FPN_OPTIONS]
    env = dict(_env(), PORT=str(free_port()), PYTHON=sys.executable,
               DEVICE='cpu')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    [log] = glob.glob(osp.join(work, '*', '*.log'))
    text = open(log).read()
    assert 'Distributed training: True' in text and 'GPU number: 2' in text, text[:3000]
    iters = re.findall(r'Epoch\(train\) +\[1\]\[1/1\].* loss: (-?[0-9.]+) ', text)
    assert len(iters) == 1 and math.isfinite(float(iters[0])), text[-2000:]
    dumped = Config.fromfile(osp.join(work, osp.basename(PRETRAIN_DEMO)),
                             import_custom_modules=False)   # this process runs on mmselfsup
    assert dumped.default_scope == 'mmpretrain'
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
