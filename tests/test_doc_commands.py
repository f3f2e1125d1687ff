"""The shell commands of the README and docs, read as a user follows them: a checkpoint path one
page uses is the one the pretraining command another page gives writes, and what the commands
write lands under ``work_dirs/`` or in a folder git ignores, never loose in the repository."""
import glob
import os.path as osp
import re
import shlex
import subprocess

import pytest
from mmengine.config import Config

from mmsoco.testing import REPO

README = osp.join(REPO, 'README.md')
DOCS = [README, osp.join(REPO, 'configs', 'soco', 'README.md')] + sorted(
    glob.glob(osp.join(REPO, 'docs', '*.md')))
PRETRAIN = re.compile(r'(?:^|\s)tools/dist_train\.sh (configs/\S+\.py)')
EPOCH_CKPT = re.compile(r'work_dirs/([^/\s<>]+)/epoch_(\d+)\.pth')  # <config>: a placeholder
#: a path under a placeholder folder (DIR/, DATA/) or a variable is the user's own
PLACEHOLDER = re.compile(r'^(\$|[A-Z][A-Z0-9_]*(/|$))')


def _commands(path):
    """Each command of the file's shell blocks, continuation lines joined."""
    text = open(path, encoding='utf-8').read()
    for block in re.findall(r'```(?:shell|bash|sh)\n(.*?)```', text, flags=re.S):
        yield from (c.strip() for c in block.replace('\\\n', ' ').splitlines() if c.strip())


def _written_by(command):
    """The relative paths a command writes: ``--out`` values and the output file of a converter
    or of ``publish_model.py`` (their second positional argument)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return []
    out = [words[i + 1] for i, w in enumerate(words[:-1]) if w == '--out']
    for i, w in enumerate(words):
        if w.startswith('tools/model_converters/') and w.endswith('.py') \
                or w == 'tools/publish_model.py':
            args = words[i + 1:i + 3]
            if len(args) == 2 and not any(a.startswith('-') for a in args):
                out.append(args[1])
    return [p for p in out if not osp.isabs(p) and not PLACEHOLDER.match(p)]


def _pretrained(path):
    """work dir name -> config of the pretraining commands of a file."""
    return {osp.splitext(osp.basename(config))[0]: config for command in _commands(path)
            for config in PRETRAIN.findall(command)}


def _epochs(config):
    """max_epochs of a config (loaded only when a checkpoint path needs it: some configs need
    another host library, see docs/mmpretrain.md)."""
    cfg = Config.fromfile(osp.join(REPO, config), import_custom_modules=False)
    return str(cfg.train_cfg.max_epochs)


def test_checkpoint_paths_are_what_the_pretraining_commands_write():
    """``work_dirs/<config file name>/epoch_<max_epochs>.pth`` (tools/train.py's work dir) of a
    pretraining command on the same page or in the README."""
    from_readme = _pretrained(README)
    assert _epochs(from_readme['soco_r50_fpn']) == '100'
    used = 0
    for doc in DOCS:
        runs = dict(from_readme, **_pretrained(doc))
        for command in _commands(doc):
            for name, epoch in EPOCH_CKPT.findall(command):
                used += 1
                assert name in runs and _epochs(runs[name]) == epoch, (
                    f'{osp.relpath(doc, REPO)}: work_dirs/{name}/epoch_{epoch}.pth is written by '
                    f'no pretraining command there or in the README (those run {runs})')
    assert used >= 4


def test_commands_write_under_work_dirs_or_ignored_folders():
    if subprocess.run(['git', 'rev-parse'], cwd=REPO, capture_output=True).returncode:
        pytest.skip('not a git checkout')
    written = sorted({p for doc in DOCS for c in _commands(doc) for p in _written_by(c)})
    assert 'work_dirs/views.png' in written and 'checkpoints/soco_r50-fpn_mmdet-rcnn.pth' in written
    ignored = subprocess.run(['git', 'check-ignore', '--no-index', *written], cwd=REPO,
                             capture_output=True, text=True).stdout.split()
    assert sorted(set(written) - set(ignored)) == []
