"""Run mmsoco on the host a config picks, in a process of its own, and report one JSON line.

mmselfsup and mmpretrain cannot share a process, so ``tests/test_mmpretrain_route.py`` runs each
route through this script::

    python tests/route_probe.py train ARGS...    # tools/train.py ARGS, in this process
    python tests/route_probe.py loss CONFIG CHECKPOINT BATCH [--make-batch DATA_ROOT]

``loss`` builds CONFIG's model (its ``custom_imports`` pick the host), loads the checkpoint's
``state_dict`` strictly and computes the losses of the batch saved in BATCH; ``--make-batch`` first
writes that batch from CONFIG's real pipeline on the images under DATA_ROOT (two samples).  Both
print ``ROUTE_PROBE {json}``: the host, which of mmselfsup, mmpretrain, mmcls this process
imported, and the losses.
"""
import json
import os
import os.path as osp
import runpy
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def report(**extra) -> None:
    from mmsoco.registry import HOST
    imported = {name: sys.modules.get(name) is not None
                for name in ('mmselfsup', 'mmpretrain', 'mmcls')}
    print('ROUTE_PROBE ' + json.dumps(dict(host=HOST, imported=imported, **extra)), flush=True)


def make_batch(cfg, data_root: str, path: str) -> None:
    """Two samples of the config's pipeline, as plain tensors (views, and each sample's fields)."""
    from mmengine.dataset import default_collate
    from mmengine.runner import set_random_seed

    from mmsoco.registry import DATASETS
    set_random_seed(0)
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=data_root))
    batch = default_collate([dataset[0], dataset[1]])
    samples = [dict(fields={k: v for k, v in s.items() if hasattr(v, 'shape')},
                    metainfo={k: v for k, v in s.metainfo_items() if k == 'view_pairs'})
               for s in batch['data_samples']]
    import torch
    torch.save(dict(inputs=batch['inputs'], samples=samples), path)


def loss(config: str, checkpoint: str, batch_path: str, data_root=None) -> None:
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    torch.set_num_threads(1)
    cfg = Config.fromfile(config)
    from mmsoco.host import DataSample
    from mmsoco.registry import MODELS
    init_default_scope(cfg.default_scope)
    if data_root is not None:
        make_batch(cfg, data_root, batch_path)
    model = MODELS.build(cfg.model)
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)['state_dict']
    model.load_state_dict(state, strict=True)
    model.target_net.max_iters = 100      # the momentum schedule, without a Runner
    saved = torch.load(batch_path, map_location='cpu', weights_only=True)
    samples = [DataSample(metainfo=s['metainfo'], **s['fields']) for s in saved['samples']]
    data = model.data_preprocessor(dict(inputs=saved['inputs'], data_samples=samples), True)
    losses = model._run_forward(data, mode='loss')   # a tuple on mmselfsup, a dict on mmpretrain
    report(losses={k: float(v.detach()) for k, v in losses.items()})


def main(argv) -> None:
    command, args = argv[0], argv[1:]
    if command == 'train':
        sys.argv = [osp.join(REPO, 'tools', 'train.py'), *args]
        runpy.run_path(sys.argv[0], run_name='__main__')
        report()
    elif command == 'loss':
        data_root = None
        if '--make-batch' in args:
            i = args.index('--make-batch')
            data_root = args[i + 1]
            args = args[:i] + args[i + 2:]
        loss(*args, data_root=data_root)
    else:
        sys.exit(f'route_probe: unknown command {command!r} (train or loss)')


if __name__ == '__main__':
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    main(sys.argv[1:])
