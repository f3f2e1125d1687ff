"""The study's arms that start from an existing model (``--init CKPT``).

* ``init``: the model as it is (converted by :mod:`mmsoco.converters.init_checkpoint` against the
  study's SoCo config), fine-tuned with no further pretraining;
* ``init+soco``: SoCo on the study's images, ``load_from`` that conversion;
* ``init+byol``: mmselfsup's BYOL on the same images, iterations and batch, its online and target
  backbones starting from the same weights.

They run beside ``soco``/``byol``/``scratch`` with the same fine-tuning config and seeds.  Each
arm's pretrained checkpoint goes downstream as the method it continues (:meth:`InitArms.method`,
:meth:`InitArms.converts_as`): ``init+soco`` like ``soco``, ``init+byol`` like ``byol``, and
``init`` like ``byol`` (backbone only) unless the source is a SoCo model (then like ``soco``:
backbone, FPN and box head).  A downstream task (detection here) needs nothing else to take them.
"""
import hashlib
import os
import os.path as osp
from typing import Dict, Optional

import torch

#: The arms ``--init`` adds, in report order.
INIT_ARMS = ('init', 'init+soco', 'init+byol')
#: Pretraining method of every arm that pretrains (``init`` does not).
METHODS = {'soco': 'soco', 'byol': 'byol', 'init+soco': 'soco', 'init+byol': 'byol'}
#: The BYOL model's target network (mmselfsup ``CosineEMA(nn.Sequential(backbone, neck))``).
BYOL_TARGET_BACKBONE = 'target_net.module.0.'


def method(arm: str) -> Optional[str]:
    """``'soco'`` or ``'byol'``: what the arm pretrains with; None for ``init`` and ``scratch``."""
    return METHODS.get(arm)


def file_fingerprint(path: str) -> Dict[str, object]:
    """Size and the first 16 hex of the sha256 of a file: what a stage depends on is its content,
    not where it lies."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return dict(bytes=os.path.getsize(path), sha256=digest.hexdigest()[:16])


def byol_start_state(soco_start: Dict[str, torch.Tensor],
                     byol_model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """The converted backbone as the start of mmselfsup's BYOL: online ``backbone.*``, the same
    tensors as the target's backbone (``target_net.module.0.*``) and ``target_net.steps = 0``.

    Raises:
        ValueError: The tensors do not fit the BYOL model (missing backbone keys, other shapes).
    """
    from mmsoco.converters.key_check import compare_state_dicts
    state = {k: v.clone() for k, v in soco_start.items() if k.startswith('backbone.')}
    state.update({BYOL_TARGET_BACKBONE + k[len('backbone.'):]: v.clone()
                  for k, v in list(state.items())})
    state['target_net.steps'] = torch.zeros((), dtype=torch.long)
    report = compare_state_dicts(state, byol_model,
                                 scopes=('backbone.', BYOL_TARGET_BACKBONE, 'target_net.steps'))
    if not report.ok:
        raise ValueError(f'the converted backbone does not fit the BYOL model: '
                         f'{report.describe()}')
    return state


class InitArms:
    """What a :class:`~mmsoco.study.study.TransferStudy` needs for the ``init*`` arms.

    Args:
        study (TransferStudy): The study (its settings, work dir, stage book and log).
    """

    def __init__(self, study) -> None:
        self.study = study
        self._fingerprint = None
        self._start = None

    @property
    def fingerprint(self) -> Dict[str, object]:
        if self._fingerprint is None:
            self._fingerprint = file_fingerprint(self.study.s.init)
        return self._fingerprint

    def settings(self, arm: Optional[str]) -> dict:
        """What an ``init*`` arm's stages depend on beyond the other arms' (empty for those)."""
        return dict(init=self.fingerprint) if arm in INIT_ARMS else {}

    def start(self):
        """Stage ``init_start``: the source as the start of a SoCo run and of a BYOL run.

        Returns:
            StageRecord: outputs ``checkpoint`` (SoCo start), ``byol_start``, ``layout``,
            ``algorithm``, ``provided`` and ``new`` modules, ``mapped``/``left_out`` counts.
        """
        if self._start is not None:
            return self._start
        study, s = self.study, self.study.s
        out_dir = osp.join(study.work, 'checkpoints')
        soco_dst = osp.join(out_dir, f'init_r{s.depth}_soco-start.pth')
        byol_dst = osp.join(out_dir, f'init_r{s.depth}_byol-start.pth')

        def run():
            from mmsoco.converters.from_original import build_soco_model
            from mmsoco.converters.init_checkpoint import (convert_init_state, read_checkpoint,
                                                           save_init_checkpoint)
            os.makedirs(out_dir, exist_ok=True)
            work_dir = osp.join(study.work, 'pretrain')
            soco_cfg = study.pretrain_config('soco', work_dir)
            byol_cfg = study.pretrain_config('byol', work_dir)
            conv = convert_init_state(read_checkpoint(s.init), build_soco_model(soco_cfg), s.init)
            study.log(conv.summary())
            save_init_checkpoint(conv, soco_dst, meta=dict(source=s.init))
            torch.save({'state_dict': byol_start_state(conv.state_dict,
                                                       _build_byol(byol_cfg)),
                        'meta': dict(source=s.init, part='backbone')}, byol_dst)
            return dict(checkpoint=soco_dst, byol_start=byol_dst, layout=conv.layout,
                        algorithm=conv.algorithm, provided=conv.provided, new=conv.new,
                        mapped=len(conv.mapped), left_out=len(conv.left_out))
        self._start = study.book.run('init_start', dict(study._common(), **self.settings(
            'init'), options=s.cfg_options.get('soco')), run)
        return self._start

    def load_from(self, arm: str) -> Optional[str]:
        """The checkpoint a pretraining run of ``arm`` starts from (None: from scratch)."""
        if arm == 'init+soco':
            return self.start().outputs['checkpoint']
        if arm == 'init+byol':
            return self.start().outputs['byol_start']
        return None

    def converts_as(self, arm: str) -> str:
        """``'soco'`` (backbone, FPN, box head) or ``'byol'`` (backbone): how the arm's
        pretrained checkpoint goes to the downstream model."""
        if arm == 'init':
            provided = self.start().outputs['provided']
            return 'soco' if {'neck', 'head'} <= set(provided) else 'byol'
        return METHODS[arm]


def _build_byol(cfg) -> torch.nn.Module:
    """The BYOL model of the study's BYOL config (nothing loaded)."""
    import copy

    from mmengine.registry import DefaultScope
    from mmselfsup.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmselfsup'):
        return MODELS.build(copy.deepcopy(cfg.model))
