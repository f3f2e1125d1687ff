"""Checks that run before any training process starts, each failing with one line.

``tools/train.py`` runs them after loading the config; ``tools/dist_train.sh`` runs them once
(``tools/train.py CONFIG --check``) before it starts ``torchrun``, so a run that cannot work
stops in seconds with the reason instead of N tracebacks a minute later:

- a config with SyncBN in a distributed run on a machine without a CUDA GPU (torch's DDP refuses
  SyncBN on CPU modules in every process);
- on a CUDA machine, an mmcv built without its CUDA ops (RoIAlign would fail at the first step);
- a missing data root, image folder, ``ann_file`` or proposals file of a ``SoCoDataset``, and
  a proposals file made for another image folder (a sample of its keys is looked up on disk);
- a model whose RoI pooling cannot take its data's box sets (:mod:`.compatibility`).

Each message names the path or setting and the command that fixes it.
"""
import os
import os.path as osp
from typing import Iterator, List, Mapping, Optional

#: the one-process CPU form of the R50-FPN recipe: plain BN, batch 4, the demo's photos
CPU_CONFIG = 'configs/soco/soco_resnet50-fpn_1xb4-coslr-2e_demo.py'
SYNC_BN_TYPES = ('SyncBN', 'MMSyncBN', 'TorchSyncBN', 'SyncBatchNorm')
#: what ``mmcv.ops.get_compiling_cuda_version()`` returns for a build without CUDA ops
MMCV_NO_CUDA = 'not available'
#: how many keys of a proposals file are looked up in the image folder (spread over the file)
KEY_SAMPLE = 32


class PreflightError(RuntimeError):
    """A run that cannot work; the message is one line naming what is missing and the fix."""


def uses_sync_bn(model_cfg) -> bool:
    """Whether a model config asks for SyncBN anywhere (``norm_cfg=dict(type='SyncBN')``)."""
    if isinstance(model_cfg, Mapping):
        norm = model_cfg.get('norm_cfg')
        if isinstance(norm, Mapping) and str(norm.get('type', '')).split('.')[-1] in SYNC_BN_TYPES:
            return True
        return any(uses_sync_bn(v) for v in model_cfg.values())
    if isinstance(model_cfg, (list, tuple)):
        return any(uses_sync_bn(v) for v in model_cfg)
    return False


def check_device(cfg, config: str, distributed: bool, cuda_available: bool,
                 mmcv_cuda_version: Optional[str] = None, plain_bn: bool = False) -> None:
    """Refuse a SyncBN config in a distributed CPU run, and a CUDA run without mmcv's CUDA ops.

    Args:
        cfg (Config): The run's config (after ``--cfg-options``).
        config (str): The config path, for the message.
        distributed (bool): Whether the run is launched as several processes (``--launcher``).
        cuda_available (bool): ``torch.cuda.is_available()``.
        mmcv_cuda_version (str, optional): ``mmcv.ops.get_compiling_cuda_version()``; read from
            mmcv when None and ``cuda_available``.
        plain_bn (bool): SyncBN layers run as per-process BN (``tools/train.py --plain-bn``,
            which ``DEVICE=cpu tools/dist_train.sh`` passes), so a CPU run may use them.

    Raises:
        PreflightError: One line with what to run instead.
    """
    if not cuda_available:
        if distributed and not plain_bn and uses_sync_bn(cfg.get('model')):
            raise PreflightError(
                f'{config} uses SyncBN, which needs CUDA GPUs, and none is visible. On CPUs: '
                f'DEVICE=cpu tools/dist_train.sh {config} N (SyncBN becomes per-process BN), '
                f'the demo (make demo) or the same R50-FPN recipe with plain BN in one process: '
                f'python tools/train.py {CPU_CONFIG} (it trains on the photos make demo writes '
                'to work_dirs/demo/data; another collection: --cfg-options '
                'train_dataloader.dataset.data_root=DIR/)')
        return
    if mmcv_cuda_version is None:
        from mmcv.ops import get_compiling_cuda_version
        mmcv_cuda_version = get_compiling_cuda_version()
    if mmcv_cuda_version == MMCV_NO_CUDA:
        import mmcv
        import torch
        raise PreflightError(
            f'mmcv {mmcv.__version__} was built without its CUDA ops (mmcv.ops.'
            f"get_compiling_cuda_version() is '{MMCV_NO_CUDA}'), so RoIAlign cannot run on the "
            f'GPU. Rebuild it where nvcc of CUDA {torch.version.cuda} (torch\'s) and the GPU are '
            'visible: .venv/bin/python -m pip uninstall -y mmcv && PIP_NO_CACHE_DIR=1 make venv')


def _soco_datasets(dataset_cfg) -> Iterator[Mapping]:
    """The ``SoCoDataset`` configs inside a dataset config (through Concat/Repeat wrappers)."""
    if not isinstance(dataset_cfg, Mapping):
        return
    if str(dataset_cfg.get('type', '')).split('.')[-1] == 'SoCoDataset':
        yield dataset_cfg
    for sub in dataset_cfg.get('datasets', None) or []:
        yield from _soco_datasets(sub)
    yield from _soco_datasets(dataset_cfg.get('dataset'))


def _join(root: str, path: str) -> str:
    return path if not root or not path or osp.isabs(path) else osp.join(root, path)


def collection_paths(ds: Mapping) -> dict:
    """The paths a ``SoCoDataset`` config points at, joined as the dataset joins them.

    Returns:
        dict: ``data_root``, ``img_root`` (data_root + ``data_prefix['img_path']``), ``ann_file``
        ('' when the image folder is scanned) and ``proposals_file`` (relative paths taken from
        data_root, as :class:`mmsoco.datasets.SoCoDataset` does).
    """
    from mmsoco.datasets.soco_dataset import proposals_path
    root = ds.get('data_root', '') or ''
    prefix = (ds.get('data_prefix') or {}).get('img_path', 'train/')
    return dict(data_root=root, img_root=_join(root, prefix) or root,
                ann_file=_join(root, ds.get('ann_file', '') or ''),
                proposals_file=proposals_path(ds.get('proposals_file', '') or '', root))


def _make_proposals(paths: dict) -> str:
    out = paths['proposals_file'] or osp.join(paths['data_root'], 'proposals.npz')
    src = f"{paths['ann_file']} --root {paths['img_root']}" if paths['ann_file'] \
        else paths['img_root']
    return f'python -m data_prep.generate_proposals {src} --out {out}'


def check_data(cfg, key: str = 'train_dataloader') -> None:
    """Check the data root, image folder, ``ann_file`` and proposals file of every SoCoDataset.

    Args:
        cfg (Config): The run's config (after ``--cfg-options``).
        key (str): The dataloader whose dataset is checked.

    Raises:
        PreflightError: One line naming the missing path, the config key and the step that
            makes it (``data_prep.generate_proposals`` for a proposals file).
    """
    where = f'{key}.dataset'
    for ds in _soco_datasets((cfg.get(key) or {}).get('dataset')):
        p = collection_paths(ds)
        if p['data_root'] and not osp.isdir(p['data_root']):
            raise PreflightError(
                f"data root '{p['data_root']}' does not exist ({where}.data_root). Put the image "
                f"collection there (ImageNet-1k: {p['img_root']}<class>/<image>), link it there "
                f'or set --cfg-options {where}.data_root=DIR/; then make its proposals: '
                f'{_make_proposals(p)}')
        if not osp.isdir(p['img_root']):
            raise PreflightError(
                f"image folder '{p['img_root']}' does not exist (data_root + "
                f"{where}.data_prefix.img_path); point data_prefix=dict(img_path=...) at the "
                'folder that holds the images')
        if p['ann_file'] and not osp.isfile(p['ann_file']):
            raise PreflightError(
                f"ann_file '{p['ann_file']}' not found ({where}.ann_file); give a list file or "
                "a COCO json relative to data_root, or ann_file='' to scan the image folder")
        if not p['proposals_file'] or not osp.isfile(p['proposals_file']):
            raise PreflightError(
                f"proposals file '{p['proposals_file']}' not found ({where}.proposals_file); "
                f'make it with the offline proposal stage: {_make_proposals(p)}')
        check_proposal_keys(p, where)


def check_proposal_keys(paths: dict, where: str, sample: int = KEY_SAMPLE) -> int:
    """Refuse a proposals file whose keys name no image of the collection.

    The keys are image paths relative to the image folder (or to data_root). ``sample`` of them,
    spread evenly over the sorted keys, are looked up on disk: reading them maps the file and
    touches only its ``paths`` member, never the boxes.  When none is there, the first
    ``sample`` images under the image folder are looked up in the file before it is refused:
    a file made for a larger collection (ImageNet's, of which a subset is on disk) passes.

    Args:
        paths (dict): :func:`collection_paths` of the dataset, its proposals file present.
        where (str): The dataset's config key, for the message.
        sample (int): How many keys to look up.

    Returns:
        int: How many sampled keys are not image files of the collection (some may be, when
        images were removed after the proposals were made; the dataset counts those).

    Raises:
        PreflightError: The file cannot be read, holds no key, or no sampled key is an image
            file under the image folder or data root and no image found there is in the file.
    """
    import warnings

    import numpy as np

    from data_prep.storage import ProposalStore
    path = paths['proposals_file']
    try:
        with warnings.catch_warnings():   # an old file's upgrade hint comes with the dataset
            warnings.simplefilter('ignore')
            store = ProposalStore.load(path)
    except (OSError, ValueError) as e:
        raise PreflightError(f'{e} ({where}.proposals_file); make it again: '
                             f'{_make_proposals(paths)}') from e
    if not len(store):
        raise PreflightError(f"proposals file '{path}' holds no image ({where}.proposals_file); "
                             f'make it again: {_make_proposals(paths)}')
    rows = np.unique(np.linspace(0, len(store) - 1, min(sample, len(store))).astype(np.int64))
    keys = [store.key_at(int(i)) for i in rows]
    roots = [r for r in (paths['img_root'], paths['data_root']) if r]
    missing = [k for k in keys if not any(osp.isfile(osp.join(r, k)) for r in roots)]
    if len(missing) == len(keys) and not _covers_some(store, paths, sample):
        raise PreflightError(
            f"proposals file '{path}' was made for another image folder: {len(missing)} of "
            f"{len(keys)} sampled keys (e.g. '{missing[0]}') are no image under "
            f"'{paths['img_root']}', and no image found there has an entry "
            f'({where}.proposals_file, data_root, data_prefix); '
            f'make the proposals of these images: {_make_proposals(paths)}')
    return len(missing)


def _covers_some(store, paths: dict, n: int) -> bool:
    """Whether one of the first ``n`` images under the image folder (folders in sorted order,
    the walk stopped there) has an entry in ``store``, keyed from the image folder or data_root.
    """
    from data_prep.collection import IMG_EXTENSIONS
    img_root, data_root = paths['img_root'], paths['data_root']
    prefix = osp.relpath(img_root, data_root).replace(os.sep, '/') if data_root else '.'
    found = []
    for dirpath, dirs, files in os.walk(img_root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        rel_dir = osp.relpath(dirpath, img_root).replace(os.sep, '/')
        found += [name if rel_dir == '.' else f'{rel_dir}/{name}' for name in sorted(files)
                  if not name.startswith('.') and name.lower().endswith(IMG_EXTENSIONS)]
        if len(found) >= n:
            break
    keys = found[:n] + ([f'{prefix}/{k}' for k in found[:n]] if prefix != '.' else [])
    return bool(keys) and bool((store.find(keys) >= 0).any())


def preflight(cfg, config: str, distributed: bool, cuda_available: bool,
              plain_bn: bool = False) -> List[str]:
    """Run every check (device first, then data); raise :class:`PreflightError` on the first.

    Returns:
        list[str]: What was checked, for ``tools/train.py --check`` to print.
    """
    from .compatibility import pooling_error
    if pooling_error(cfg):   # the config alone: before any path or device is looked at
        raise PreflightError(f'{config}: {pooling_error(cfg)}')
    check_device(cfg, config, distributed, cuda_available, plain_bn=plain_bn)
    check_data(cfg)
    n = sum(1 for _ in _soco_datasets((cfg.get('train_dataloader') or {}).get('dataset')))
    device = 'cuda' if cuda_available else 'cpu'
    return [f'device {device}' + (' (mmcv CUDA ops present)' if cuda_available else ''),
            f'{n} SoCoDataset collection(s): data root, images and proposals file present']
