"""mmsoco as an OpenMMLab package: the model index, configs and tools shipped in ``mmsoco/.mim``,
a non-editable build, ``mim train`` / ``mim search``, and the publish step."""
import glob
import hashlib
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
import torch
import yaml
from mmengine.config import Config

from mmsoco.testing import REPO, TINY_FPN_OPTIONS, installed, model_cfg
from mmsoco.utils.package_files import MIM_DIR, shipped_path

PUBLISH = osp.join(REPO, 'tools', 'publish_model.py')
MIM = osp.join(osp.dirname(sys.executable), 'mim')
DEMO_CONFIG = 'soco_resnet50-fpn_1xb4-coslr-2e_demo.py'


def _metafile():
    index = yaml.safe_load(open(osp.join(REPO, 'model-index.yml')))
    [path] = index['Import']
    return path, yaml.safe_load(open(osp.join(REPO, path)))


def test_model_index_and_metafile_follow_the_openmmlab_schema():
    path, meta = _metafile()
    assert path == 'configs/soco/metafile.yml'
    [collection] = meta['Collections']
    for key in ('Training Data', 'Training Techniques', 'Training Resources', 'Architecture'):
        assert collection['Metadata'][key], key
    assert collection['Paper']['URL'] == 'https://arxiv.org/abs/2106.02637'
    assert collection['Paper']['Title'].startswith('Aligning Pretraining for Detection')
    assert osp.isfile(osp.join(REPO, collection['README']))
    names = [m['Name'] for m in meta['Models']]
    assert len(names) == len(set(names))
    for model in meta['Models']:
        assert model['In Collection'] == collection['Name']
        assert {'Name', 'Config', 'Metadata', 'Results', 'Weights'} <= set(model), model['Name']
        assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
        cfg = Config.fromfile(osp.join(REPO, model['Config']))
        # the metadata is the config's: epochs, and GPUs x images per GPU from the name
        gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', model['Name']).groups())
        assert model['Metadata']['Epochs'] == cfg.train_cfg.max_epochs, model['Name']
        assert per_gpu == cfg.train_dataloader.batch_size, model['Name']
        assert model['Metadata']['Batch Size'] == gpus * per_gpu, model['Name']
        for result in model['Results'] or []:
            assert {'Task', 'Dataset', 'Metrics'} <= set(result)
            assert all(k.endswith('(paper)') for k in result['Metrics']), result  # labelled
        if 'Converted From' in model:
            assert model['Weights'] is None        # nothing hosted here; the authors' share:
            assert model['Converted From']['Weights'].startswith('https://drive.google.com/')
            assert model['Converted From']['Code'] == 'https://github.com/hologerry/SoCo'
    shipped = {osp.basename(c) for c in glob.glob(osp.join(REPO, 'configs', 'soco', '*.py'))}
    listed = {osp.basename(m['Config']) for m in meta['Models']}
    assert shipped - listed == {DEMO_CONFIG}       # every pretraining config but the CPU demo
    assert sum('Converted From' in m for m in meta['Models']) == 5   # C4 100/400, FPN 100/400, *


def test_configs_tools_and_model_index_are_shipped_in_the_package():
    assert osp.isdir(MIM_DIR), 'mmsoco/.mim missing: reinstall with pip install -e .'
    for name in ('configs', 'tools', 'model-index.yml'):
        path = shipped_path(name)
        assert path == osp.join(MIM_DIR, name)
        assert osp.realpath(path) == osp.realpath(osp.join(REPO, name))   # develop: links
    assert model_cfg('fpn').type == 'SoCo'          # mmsoco.testing reads them from there


def _tracked_files(repo):
    """The checkout's tracked files, plus untracked ones that git does not ignore (new files of
    work in progress), as git lists them.  ``safe.directory=*`` on the command line: a checkout
    owned by another user (a container's bind mount, a CI cache) is read all the same, where
    git would refuse it as of "dubious ownership".  Any other failure fails the test with git's
    reason: without the list, the wheel cannot be checked."""
    cmd = ['git', '-c', 'safe.directory=*', 'ls-files', '-z', '--cached', '--others',
           '--exclude-standard']
    try:
        proc = subprocess.run(cmd, cwd=repo, capture_output=True)
    except OSError as e:
        pytest.fail(f'the wheel test builds from the files git tracks in {repo}, and git cannot '
                    f'run: {e}')
    if proc.returncode:
        pytest.fail(f'the wheel test builds from the files git tracks in {repo}, and '
                    f'`{" ".join(cmd)}` failed: {proc.stderr.decode().strip()}')
    return [name for name in proc.stdout.decode().split('\0') if name]


def _tracked_copy(dst):
    for rel in _tracked_files(REPO):
        if osp.isfile(osp.join(REPO, rel)):
            os.makedirs(osp.dirname(osp.join(dst, rel)), exist_ok=True)
            shutil.copy2(osp.join(REPO, rel), osp.join(dst, rel))
    return dst


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() != 0,
                    reason='giving a checkout to another user needs root')
def test_tracked_files_are_listed_in_a_checkout_owned_by_another_user(tmp_path):
    repo = tmp_path / 'checkout'
    repo.mkdir()
    (repo / 'a file.py').write_text('x = 1\n')
    (repo / 'ignored.pyc').write_text('')
    (repo / '.gitignore').write_text('*.pyc\n')
    subprocess.run(['git', 'init', '-q', str(repo)], check=True)
    subprocess.run(['git', '-C', str(repo), 'add', 'a file.py'], check=True)
    (repo / 'new.py').write_text('')
    for path in [repo, *repo.rglob('*')]:
        os.chown(path, 65534, 65534)          # nobody: git now calls the ownership dubious
    plain = subprocess.run(['git', 'ls-files'], cwd=repo, capture_output=True, text=True)
    assert plain.returncode != 0 and 'dubious ownership' in plain.stderr
    assert sorted(_tracked_files(str(repo))) == ['.gitignore', 'a file.py', 'new.py']


def test_a_wheel_carries_configs_tools_and_model_index_and_installs_without_a_checkout(tmp_path):
    src = _tracked_copy(str(tmp_path / 'src'))     # the build copies into src/mmsoco/.mim
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '-q', '-w', str(tmp_path / 'dist'), src], check=True, capture_output=True)
    [wheel] = glob.glob(str(tmp_path / 'dist' / 'mmsoco-*.whl'))
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ('configs/soco_r50_fpn.py', 'configs/soco/metafile.yml', 'configs/soco/README.md',
                'configs/_base_/models/soco_r50_fpn.py', 'tools/train.py', 'tools/dist_train.sh',
                'tools/model_converters/original2soco.py', 'model-index.yml'):
        assert f'mmsoco/.mim/{rel}' in names, rel
    assert 'data_prep/skimage_boxes.json' in names
    requires = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith('.dist-info/METADATA'))).decode()
    for dep in ('mmcv<2.1.0,>=2.0.0', 'mmdet<3.4.0,>=3.0.0', 'mmselfsup<1.1.0,>=1.0.0'):
        assert f'Requires-Dist: {dep}' in requires, dep

    # installed (no checkout next to it): the package finds its configs in mmsoco/.mim.  Its
    # package_files module is loaded alone, to keep torch and the OpenMMLab stack out of this check.
    target = str(tmp_path / 'site')
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', target,
                    wheel], check=True, capture_output=True)
    code = ('import importlib.util as u, sys; s = u.spec_from_file_location("pf", sys.argv[1]); '
            'm = u.module_from_spec(s); s.loader.exec_module(m); '
            'print(m.config_path("_base_/models/soco_r50_c4.py")); print(m.shipped_path("tools"))')
    out = subprocess.run([sys.executable, '-c', code,
                          osp.join(target, 'mmsoco', 'utils', 'package_files.py')],
                         capture_output=True, text=True, check=True).stdout.split()
    mim = osp.join(target, 'mmsoco', '.mim')
    assert out == [osp.join(mim, 'configs', '_base_', 'models', 'soco_r50_c4.py'),
                   osp.join(mim, 'tools')]
    assert not osp.islink(out[0]) and osp.isfile(osp.join(mim, 'tools', 'train.py'))


# -------------------------------------------------------------------------------------- mim
def test_mim_search_lists_and_filters_the_models():
    _, meta = _metafile()
    proc = subprocess.run([MIM, 'search', 'mmsoco', '--valid-config'], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = re.search(r"valid config ids:\s*\[(.*)\]", proc.stdout, re.S).group(1)
    assert re.findall(r"'([^']+)'", listed) == [m['Name'] for m in meta['Models']]
    proc = subprocess.run([MIM, 'search', 'mmsoco', '--condition', 'epochs>100'],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shown = re.findall(r'config id: (\S+)', proc.stdout)
    assert shown == [m['Name'] for m in meta['Models'] if m['Metadata']['Epochs'] > 100]
    assert 'coco/box_ap_(paper)' in proc.stdout           # the paper's figures, labelled


@pytest.mark.parametrize('config', [
    pytest.param(DEMO_CONFIG, id='mmselfsup'),
    pytest.param(DEMO_CONFIG.replace('.py', '_mmpretrain.py'), id='mmpretrain',
                 marks=pytest.mark.skipif(not installed('mmpretrain'), reason=(
                     'mmpretrain is not installed (tools/setup_env.sh installs it)')))])
def test_mim_train_runs_the_demo_config_from_the_package_for_one_iteration(config, tmp_path):
    from data_prep.demo_collection import build_demo_collection
    from data_prep.generate_proposals import main as generate
    data = str(tmp_path / 'data')
    build_demo_collection(data, n_images=2)
    assert generate([osp.join(data, 'train'), '--out', osp.join(data, 'proposals.npz'),
                     '--workers', '1']) == 0
    work = str(tmp_path / 'work')
    # the config by name only: mim finds it inside the installed package (mmsoco/.mim/configs).
    # Narrow layers: what is tested here is mim finding and running the packaged config and
    # tool (on either host); R50 runs in other tests
    cmd = [MIM, 'train', 'mmsoco', config, '--work-dir', work, '--cfg-options',
           f'train_dataloader.dataset.data_root={data}/', 'train_dataloader.batch_size=2',
           'train_cfg.max_epochs=1', 'train_dataloader.num_workers=0',
           'default_hooks.checkpoint.save_last=False', 'default_hooks.checkpoint.interval=2',
           *TINY_FPN_OPTIONS]
    env = dict(os.environ, OMP_WAIT_POLICY='PASSIVE')
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "we find the config file in codebase mmsoco" in proc.stdout
    assert not glob.glob(osp.join(work, '*.pth'))
    log = open(glob.glob(osp.join(work, '*', '*.log'))[0]).read()
    assert re.search(r'Epoch\(train\) +\[1\]\[1/1\].* loss: -?[0-9.]+ ', log), log[-2000:]


# ------------------------------------------------------------------------------ publish_model


def test_publish_model_keeps_the_online_network_and_names_the_file_by_its_hash(
        tmp_path, capsys, run_tool):
    from mmengine.logging import MessageHub
    from mmengine.registry import DefaultScope
    from mmselfsup.registry import MODELS

    with DefaultScope.overwrite_default_scope('mmselfsup'):
        model = MODELS.build(model_cfg('fpn', tiny=True))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()                                  # real momentum buffers in the state
    hub = MessageHub.get_instance('publish-test')
    hub.update_scalar('train/loss', 1.5)
    src = str(tmp_path / 'epoch_100.pth')
    torch.save({'meta': dict(epoch=100, iter=1000, mmengine_version='0.10.7'),
                'state_dict': model.state_dict(), 'optimizer': optimizer.state_dict(),
                'message_hub': hub.state_dict(), 'param_schedulers': []}, src)

    for keep_target in (False, True):
        out = str(tmp_path / ('release' if keep_target else '') /        # folder created
                  f'soco_tiny_20261122{"_t" if keep_target else ""}.pth')
        run_tool(PUBLISH, src, out, *(['--keep-target'] if keep_target else []))
        [written] = re.findall(r'published (\S+)', capsys.readouterr().out)
        digest = hashlib.sha256(open(written, 'rb').read()).hexdigest()
        assert written == out[:-4] + f'-{digest[:8]}.pth'
        published = torch.load(written, map_location='cpu', weights_only=True)
        assert set(published) == {'state_dict', 'meta'}
        assert published['meta']['epoch'] == 100
        expected = {k: v for k, v in model.state_dict().items()
                    if keep_target or not k.startswith('target_net.')}
        assert set(published['state_dict']) == set(expected)
        assert any(k.startswith('predictor.') for k in expected)
        assert any(k.startswith('target_net.') for k in expected) == keep_target
        for key, value in expected.items():
            assert torch.equal(published['state_dict'][key], value), key
    assert not glob.glob(str(tmp_path / '*.tmp.pth'))


@pytest.mark.parametrize('content', [b'garbage\n', b'not a checkpoint at all' * 10])
def test_publish_model_on_a_file_that_is_no_checkpoint_is_one_line(tmp_path, content, run_tool):
    src = tmp_path / 'epoch_1.pth'
    src.write_bytes(content)
    with pytest.raises(SystemExit) as exit_:
        run_tool(PUBLISH, str(src), str(tmp_path / 'out' / 'x.pth'))
    message = str(exit_.value.code)
    assert message.startswith(f'publish_model: error: {src} is not a readable torch checkpoint')
    assert len(message.splitlines()) == 1 and not (tmp_path / 'out').exists()
