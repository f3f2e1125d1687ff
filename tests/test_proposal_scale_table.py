"""``benchmark_proposals.py --scale-table``: every scale against the original on each shared set,
speed-up and recall per set and scale, and the fastest scale whose recall is at least the
original's on every set.  Run on two images of two real sets, with a stand-in for the original
(the ``selectivesearch`` package is a benchmark-only dependency)."""
import importlib.util
import json
import os.path as osp

import pytest

from mmsoco.testing import REPO

DATASETS = osp.join(REPO, '..', 'shared', 'datasets')


def _bench():
    spec = importlib.util.spec_from_file_location(
        'benchmark_proposals', osp.join(REPO, 'tools', 'benchmarks', 'benchmark_proposals.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not osp.isdir(osp.join(DATASETS, 'raccoon')),
                    reason='the shared real datasets are not on this machine')
def test_scale_table_against_a_stand_in_original(monkeypatch, capsys, tmp_path):
    from data_prep.selective_search import SelectiveSearch
    bench = _bench()
    # the stand-in "original": one coarse segmentation, fewer boxes than any default scale
    monkeypatch.setattr(bench, 'pure_python_baseline',
                        lambda *a, **k: SelectiveSearch(scale=100, k=(300, )))
    code = bench.main(['--scale-table', DATASETS, '--sets', 'raccoon', 'kangaroo',
                       '--scales', '150', '250', '--max-images', '2', '--json',
                       str(tmp_path / 'figures.json')])
    assert code == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()
            if line.split()[:1] in (['raccoon'], ['kangaroo']) and len(line.split()) == 9]
    assert [(r[0], r[1]) for r in rows] == [('raccoon', '150'), ('raccoon', '250'),
                                            ('kangaroo', '150'), ('kangaroo', '250')]
    assert all(r[3].endswith('x') for r in rows)            # a speed-up over the original
    assert 'fastest scale with recall_kept >= the original on every set:' in out
    table = json.loads((tmp_path / 'figures.json').read_text())['scale_table']
    assert sorted(table['sets']) == ['kangaroo', 'raccoon']
    assert all(r['images'] == 2 for rows in table['sets'].values() for r in rows.values())
    for key in ('recall_kept', 'recall_kept_eligible'):
        fastest = table[f'fastest_keeping_{key}']
        assert fastest in (150, 250, None)
        if fastest is not None:
            assert all(rows[f'scale {fastest}'][key] >= rows[bench.ORIGINAL][key]
                       for rows in table['sets'].values())


def test_scale_table_needs_known_sets():
    with pytest.raises(SystemExit):
        _bench().main(['--scale-table', DATASETS, '--sets', 'camvid'])
