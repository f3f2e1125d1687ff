"""Bad input to the proposal and dataset tools ends in one line naming the file and what was
expected, never a traceback.  In process (``run_tool`` or ``main``); one subprocess checks that
no traceback reaches the terminal."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from data_prep.draw_proposals import main as draw_main
from data_prep.generate_proposals import main as generate_main
from data_prep.storage import ProposalStore
from mmsoco.testing import REPO


def _last_line(err):
    lines = err.strip().splitlines()
    assert lines, 'nothing on stderr'
    assert 'Traceback' not in err
    return lines[-1]


@pytest.fixture
def proposals(tmp_path):
    images = tmp_path / 'images'
    images.mkdir()
    assert cv2.imwrite(str(images / 'a.jpg'), np.full((40, 60, 3), 128, np.uint8))
    path = str(tmp_path / 'p.npz')
    ProposalStore.write(path, [('a.jpg', [[5, 5, 30, 30]], (60, 40))])
    return path, str(images)


def test_draw_proposals_with_a_wrong_root_names_the_image(proposals, tmp_path, capsys):
    path, images = proposals
    wrong = str(tmp_path / 'elsewhere')
    assert draw_main([path, '--root', wrong, '--out', str(tmp_path / 'o.png')]) == 2
    last = _last_line(capsys.readouterr().err)
    assert osp.join(wrong, 'a.jpg') in last and '--root' in last and path in last, last
    assert draw_main([path, '--root', images, '--out', str(tmp_path / 'o.png')]) == 0
    # the README's --out work_dirs/boxes.png on a fresh clone: the folder is made
    assert draw_main([path, '--root', images, '--out', str(tmp_path / 'new' / 'o.png')]) == 0
    assert (tmp_path / 'new' / 'o.png').is_file()
    assert draw_main([str(tmp_path / 'none.npz'), '--root', images, '--out',
                      str(tmp_path / 'o.png')]) == 2
    assert 'none.npz' in _last_line(capsys.readouterr().err)


def test_export_soco_json_of_a_missing_proposals_file(tmp_path, capsys):
    missing = str(tmp_path / 'missing.npz')
    assert generate_main(['--export-soco-json', str(tmp_path / 'x.json'), '--out', missing]) == 2
    last = _last_line(capsys.readouterr().err)
    assert missing in last and '--out' in last, last
    with pytest.raises(SystemExit):            # no --out at all: argparse's one line
        generate_main(['--export-soco-json', str(tmp_path / 'x.json')])
    assert 'required: --out' in _last_line(capsys.readouterr().err)


def test_import_soco_json_missing_json_or_no_root(proposals, tmp_path, capsys):
    _, images = proposals
    out = str(tmp_path / 'imported.npz')
    missing = str(tmp_path / 'missing.json')
    assert generate_main(['--import-soco-json', missing, '--out', out, '--root', images]) == 2
    last = _last_line(capsys.readouterr().err)
    assert missing in last and 'No such file' in last, last

    good = str(tmp_path / 'soco.json')
    with open(good, 'w') as f:
        json.dump({'a.jpg': [[5, 5, 25, 25]]}, f)
    # without --root the sizes would be unknown (0, 0): refused, nothing written
    assert generate_main(['--import-soco-json', good, '--out', out]) == 2
    assert 'needs --root' in _last_line(capsys.readouterr().err)
    assert not osp.exists(out)
    assert generate_main(['--import-soco-json', good, '--out', out, '--root', images]) == 0
    assert ProposalStore.load(out).image_size('a.jpg') == (60, 40)

    broken = str(tmp_path / 'broken.json')
    with open(broken, 'w') as f:
        f.write('{"a.jpg": [[1, 2')
    assert generate_main(['--import-soco-json', broken, '--out', out, '--root', images]) == 2
    last = _last_line(capsys.readouterr().err)
    assert broken in last and 'not JSON' in last, last


def test_benchmark_on_a_missing_split(tmp_path, run_tool, capsys):
    voc = tmp_path / 'voc'
    (voc / 'Annotations').mkdir(parents=True)
    (voc / 'JPEGImages').mkdir()
    with pytest.raises(SystemExit) as done:
        run_tool(osp.join(REPO, 'tools', 'benchmarks', 'benchmark_proposals.py'),
                 '--dataset', str(voc), '--format', 'voc', '--split', 'nosuch', '--no-baseline',
                 '--skip-pipeline', '--skip-storage')
    assert done.value.code == 2
    last = _last_line(capsys.readouterr().err)
    assert "split 'nosuch'" in last and str(voc / 'ImageSets' / 'Main' / 'nosuch.txt') in last


def test_mini_coco_on_a_missing_file_or_a_percentage(tmp_path, run_tool, capsys):
    tool = osp.join(REPO, 'tools', 'dataset_converters', 'mini_coco.py')
    missing = str(tmp_path / 'instances_train2017.json')
    with pytest.raises(SystemExit) as done:
        run_tool(tool, missing)
    assert missing in str(done.value.code) and 'No such file' in str(done.value.code)
    coco = tmp_path / 'coco.json'
    coco.write_text(json.dumps(dict(images=[dict(id=i) for i in range(20)], annotations=[])))
    with pytest.raises(SystemExit) as done:
        run_tool(tool, str(coco), '--fractions', '5')
    assert done.value.code == 2
    last = _last_line(capsys.readouterr().err)
    assert '5 is not a fraction in (0, 1]' in last and '0.05' in last, last
    run_tool(tool, str(coco), '--fractions', '0.1')
    assert len(json.loads((tmp_path / 'coco_mini-10p.json').read_text())['images']) == 2


def test_no_traceback_reaches_the_terminal(proposals, tmp_path):
    path, _ = proposals
    proc = subprocess.run(
        [sys.executable, '-m', 'data_prep.draw_proposals', path, '--root', str(tmp_path / 'x'),
         '--out', str(tmp_path / 'o.png')], capture_output=True, text=True, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and 'Traceback' not in proc.stderr
