"""The study's arms that start from an existing model (``--init CKPT``).

* ``init``: the model as it is (converted by :mod:`mmsoco.converters.init_checkpoint` against the
  study's SoCo config), fine-tuned with no further pretraining;
* ``init+soco``: SoCo on the study's images, ``load_from`` that conversion;
* ``init+byol``: mmselfsup's BYOL on the same images, iterations and batch, its online and target
  backbones starting from the same weights.

They run beside the other arms (:mod:`mmsoco.study.arms`) with the same fine-tuning config and
seeds.  ``init+<method>`` goes downstream as its method does; ``init`` goes as SoCo does
(backbone, FPN, box head) when the source is a SoCo model, else as its backbone alone
(:meth:`InitArms.converts_as`).
"""
import hashlib
import os
import os.path as osp
from typing import Dict

import torch

#: pretraining method -> the output of stage ``init_start`` that starts it from ``--init``; None:
#: a stage of its own, ``init_start_<method>``, through the start converter of any mmsoco
#: algorithm (:func:`~mmsoco.converters.init_checkpoint.convert_init_state`)
INIT_STARTS = {'soco': 'checkpoint', 'byol': 'byol_start', 'plr': None, 'edmoco': None,
               'plmoco': None, 'pledmoco': None}
#: The BYOL model's target network (mmselfsup ``CosineEMA(nn.Sequential(backbone, neck))``).
BYOL_TARGET_BACKBONE = 'target_net.module.0.'


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
    """The ``init_start`` stage and what the ``init*`` arms take from it.

    Args:
        init (str): The ``--init`` checkpoint.
        work_dir (str): The study's work dir (the starts go to ``<work_dir>/checkpoints``).
        depth (int): ResNet depth (in the file names).
        book (StageBook): The study's stages.
        pretrain_config (callable): ``pretrain_config(method, work_dir) -> Config``: the study's
            pretraining config of a method (the models the source is converted into).
        settings (dict): What ``init_start`` depends on besides the source (depth, device,
            pretraining config overrides, ...).
        log (callable): Progress lines.
    """

    def __init__(self, init: str, work_dir: str, depth: int, book, pretrain_config,
                 settings: dict, log=print) -> None:
        self.init = init
        self.work = work_dir
        self.depth = depth
        self.book = book
        self.pretrain_config = pretrain_config
        self.stage_settings = settings
        self.log = log
        self._fingerprint = None
        self._start = None

    @property
    def fingerprint(self) -> Dict[str, object]:
        """Size and sha256 prefix of the source: what the ``init*`` stages depend on."""
        if self._fingerprint is None:
            self._fingerprint = file_fingerprint(self.init)
        return self._fingerprint

    def start(self):
        """Stage ``init_start``: the source as the start of a SoCo run and of a BYOL run.

        Returns:
            StageRecord: outputs ``checkpoint`` (SoCo start), ``byol_start``, ``layout``,
            ``algorithm``, ``provided`` and ``new`` modules, ``mapped``/``left_out`` counts.
        """
        if self._start is not None:
            return self._start
        out_dir = osp.join(self.work, 'checkpoints')
        soco_dst = osp.join(out_dir, f'init_r{self.depth}_soco-start.pth')
        byol_dst = osp.join(out_dir, f'init_r{self.depth}_byol-start.pth')

        def run():
            from mmsoco.converters.builder import build_model_from_cfg
            from mmsoco.converters.init_checkpoint import convert_init_state, save_init_checkpoint
            from mmsoco.converters.init_layouts import read_checkpoint
            os.makedirs(out_dir, exist_ok=True)
            work_dir = osp.join(self.work, 'pretrain')
            soco_cfg = self.pretrain_config('soco', work_dir)
            byol_cfg = self.pretrain_config('byol', work_dir)
            conv = convert_init_state(read_checkpoint(self.init),
                                      build_model_from_cfg(soco_cfg, 'mmselfsup'), self.init)
            self.log(conv.summary())
            save_init_checkpoint(conv, soco_dst, meta=dict(source=self.init))
            byol = build_model_from_cfg(byol_cfg, 'mmselfsup')
            torch.save({'state_dict': byol_start_state(conv.state_dict, byol),
                        'meta': dict(source=self.init, part='backbone')}, byol_dst)
            return dict(checkpoint=soco_dst, byol_start=byol_dst, layout=conv.layout,
                        algorithm=conv.algorithm, provided=conv.provided, new=conv.new,
                        mapped=len(conv.mapped), left_out=len(conv.left_out))
        self._start = self.book.run('init_start', dict(self.stage_settings,
                                                       init=self.fingerprint), run)
        return self._start

    def load_from(self, method: str) -> str:
        """The start of a ``method`` run continued from the source (``init+<method>``)."""
        if INIT_STARTS[method] is None:
            return self.method_start(method).outputs['checkpoint']
        return self.start().outputs[INIT_STARTS[method]]

    def method_start(self, method: str):
        """Stage ``init_start_<method>``: the source as the start of the study's ``method`` model
        (PLR, EDMoCo: the encoder-decoder's ResNet, and EDMoCo's key encoder; the decoder
        fresh), checked strictly.

        Returns:
            StageRecord: outputs ``checkpoint``, ``new`` modules, ``mapped``/``left_out`` counts.
        """
        dst = osp.join(self.work, 'checkpoints', f'init_r{self.depth}_{method}-start.pth')
        cfg = self.pretrain_config(method, osp.join(self.work, 'pretrain'))

        def run():
            from mmsoco.converters.builder import build_model_from_cfg
            from mmsoco.converters.init_checkpoint import convert_init_state, save_init_checkpoint
            from mmsoco.converters.init_layouts import read_checkpoint
            os.makedirs(osp.dirname(dst), exist_ok=True)
            conv = convert_init_state(read_checkpoint(self.init),
                                      build_model_from_cfg(cfg, 'mmselfsup'), self.init)
            self.log(conv.summary())
            save_init_checkpoint(conv, dst, meta=dict(source=self.init))
            return dict(checkpoint=dst, new=conv.new, mapped=len(conv.mapped),
                        left_out=len(conv.left_out))
        return self.book.run(f'init_start_{method}', dict(
            self.stage_settings, init=self.fingerprint, method=method,
            model=cfg.model.to_dict()), run)   # the model the start is for

    def converts_as_soco(self) -> bool:
        """Whether the ``init`` arm goes downstream as SoCo does (backbone, FPN, box head: the
        source is a SoCo model) rather than as its backbone alone."""
        return {'neck', 'head'} <= set(self.start().outputs['provided'])
