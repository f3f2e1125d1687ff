"""``make demo`` run again: a finished demo says so and runs nothing; ``--force`` redoes it."""
import os.path as osp
import subprocess

from mmsoco.testing import REPO

DEMO = osp.join(REPO, 'tools', 'demo.py')


def _finished_demo(work):
    """The files a finished demo leaves (their contents do not matter here)."""
    (work / 'data' / 'train').mkdir(parents=True)
    (work / 'pretrain').mkdir()
    for name in ('data/proposals.npz', 'pretrain/epoch_1.pth', 'pretrain/epoch_2.pth',
                 'soco_r50-fpn_mmdet-rcnn.pth'):
        (work / name).write_bytes(b'')


def test_a_finished_demo_says_so_and_runs_nothing(tmp_path, run_tool, monkeypatch, capsys):
    """It used to rerun train.py --resume (1,270 lines, a new log folder) and the converter."""
    work = tmp_path / 'demo'
    _finished_demo(work)
    calls = []
    monkeypatch.setattr(subprocess, 'call', lambda cmd, **kw: calls.append(cmd) or 1)
    run_tool(DEMO, '--work-dir', str(work))
    out = capsys.readouterr().out
    assert calls == []
    assert out.startswith(f'The demo in {work} has finished; nothing to do.'), out
    assert f'SoCo checkpoint  {work}/pretrain/epoch_2.pth' in out
    assert 'pretrain (2 epochs) and convert again: make demo DEMO_ARGS=--force' in out
    # the fine-tuning command says what it needs
    assert 'needs COCO 2017 in data/coco/ and a CUDA GPU' in out


def test_force_pretrains_from_scratch_and_converts(tmp_path, run_tool, monkeypatch):
    import data_prep.demo_collection
    work = tmp_path / 'demo'
    _finished_demo(work)
    calls = []
    monkeypatch.setattr(subprocess, 'call', lambda cmd, **kw: calls.append(cmd) or 0)
    monkeypatch.setattr(data_prep.demo_collection, 'build_demo_collection', lambda *a, **k: [])
    run_tool(DEMO, '--work-dir', str(work), '--force')
    train, convert = calls
    assert train[1] == 'tools/train.py' and '--resume' not in train
    assert convert[1:] == ['tools/model_converters/soco2mmdet.py',
                           str(work / 'pretrain' / 'epoch_2.pth'),
                           str(work / 'soco_r50-fpn_mmdet-rcnn.pth')]
