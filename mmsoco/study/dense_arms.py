"""The study's dense pretext arms (``--task seg``): patch-level rotation (``plr``),
encoder-decoder MoCo (``edmoco``), patch-level MoCo (``plmoco``) and patch-level encoder-decoder
MoCo (``pledmoco``), and ``init+<method>`` of each with ``--init``.

Each but PLMoCo (a ResNet alone, at stride 16; the segmenter takes its backbone) pretrains an
encoder-decoder built from the study's own segmenter (the FCN R50-D8 of
``--seg-model fcn``: its ResNet and decode head), so the decoder it trains is the one the
segmenter has.  Downstream (:func:`transfer_dense`) the segmenter starts from the pretrained
backbone **and** decoder when its decode head is the pretrained one, else from the backbone
alone (Semantic FPN), and the stage says which.
"""
import math
import os.path as osp
from typing import Optional

from mmengine.config import Config

from .configs import (RESNET_CHANNELS, STUDY_CONFIGS, _check_depth, _find_transforms, _runtime,
                      _warmup_cosine)
from .seg_configs import SEG_CONFIGS

#: method -> its study config
DENSE_CONFIGS = {
    'plr': osp.join(STUDY_CONFIGS, 'plr_resnet50-d8-fcn_1xb64-coslr-1500i_study.py'),
    'edmoco': osp.join(STUDY_CONFIGS, 'edmoco_resnet50-d8-fcn_1xb64-coslr-1500i_study.py'),
    'plmoco': osp.join(STUDY_CONFIGS, 'plmoco_resnet50-d16_1xb64-coslr-1500i_study.py'),
    'pledmoco': osp.join(STUDY_CONFIGS, 'pledmoco_resnet50-d8-fcn_1xb64-coslr-1500i_study.py'),
}
#: the methods whose encoder is a ResNet alone (no decoder: the segmenter takes its backbone)
BACKBONE_ONLY = ('plmoco', )


def dense_config(method: str, image_root: str, list_file: str, work_dir: str, iters: int,
                 batch: int, view_size: int = 224, depth: int = 50, workers: int = 4,
                 seed: int = 0, amp: bool = False, ckpt_interval: Optional[int] = None) -> Config:
    """PLR or EDMoCo pretraining on the study's collection (arguments as
    :func:`~mmsoco.study.configs.soco_config`; ``view_size``: the crop side, PLR's patches cut
    from it).  The encoder-decoder is the study FCN's backbone and decode head."""
    _check_depth(depth)
    cfg = Config.fromfile(DENSE_CONFIGS[method])
    ds = cfg.train_dataloader.dataset
    ds.update(data_root=image_root, ann_file=list_file, data_prefix='')
    cfg.train_dataloader.batch_size = batch
    for crop in _find_transforms(ds.pipeline, 'RandomResizedCrop'):
        crop.size = view_size
    for rot in _find_transforms(ds.pipeline, 'RandomPatchRotate'):
        rot.crop_size = view_size
    for views in _find_transforms(ds.pipeline, 'GeometricMultiView'):
        views.size = view_size
    if method in BACKBONE_ONLY:   # PLMoCo: the config's ResNet (stride 16), the study's depth
        cfg.model.backbone.depth = depth
        cfg.model.neck.in_channels = RESNET_CHANNELS[depth][3]
        _fit_cells(cfg.model, view_size)
        _warmup_cosine(cfg, iters)
        return _runtime(cfg, work_dir, f'pretrain_{method}', iters, workers, seed, amp,
                        ckpt_interval)
    seg = Config.fromfile(SEG_CONFIGS['fcn']).model
    ed = cfg.model.backbone
    ed.backbone = dict(seg.backbone, depth=depth)
    classes = ed.decode_head.num_classes
    ed.decode_head = dict(seg.decode_head, in_channels=RESNET_CHANNELS[depth][3],
                          num_classes=classes)
    if method in ('edmoco', 'pledmoco'):
        cfg.model.neck.in_channels = ed.decode_head['channels']
    if method == 'pledmoco':      # the cells of the segmenter's decoder, at its stride
        cfg.model.out_stride = 4 * math.prod(seg.backbone.strides)
        _fit_cells(cfg.model, view_size)
    _warmup_cosine(cfg, iters)
    return _runtime(cfg, work_dir, f'pretrain_{method}', iters, workers, seed, amp,
                    ckpt_interval)


def _fit_cells(model: dict, view_size: int) -> None:
    """At most as many enqueued key cells per image as a key view has (small study views)."""
    cells = math.ceil(view_size / model.out_stride) ** 2
    model.cells_per_image = min(model.cells_per_image, cells)


def transfer_dense(src: str, dst: str, cfg, study) -> dict:
    """The pretext checkpoint for the study's segmenter: backbone and decoder when the decode
    head is the pretrained one, else the backbone alone; checked strictly either way."""
    from mmsoco.converters.key_check import compare_state_dicts
    from mmsoco.converters.saving import save_conversion
    from mmsoco.converters.soco_checkpoint import load_soco_checkpoint
    from mmsoco.converters.to_mmseg_decoder import (check_decoder_against_segmentor,
                                                    convert_dense_state_dict, decoder_mismatch)
    conv = convert_dense_state_dict(load_soco_checkpoint(src))
    model = study.build_model(cfg)
    why = decoder_mismatch(conv, cfg)
    if why is None:
        check_decoder_against_segmentor(conv, cfg, model)
    else:   # another decode head: the backbone alone, as for the other methods
        study.log(f'  {why.split(":")[0]}: the segmenter starts from the backbone alone')
        conv.mapped = [(s, d) for s, d in conv.mapped if d.startswith('backbone.')]
        conv.state_dict = type(conv.state_dict)(
            (k, v) for k, v in conv.state_dict.items() if k.startswith('backbone.'))
        report = compare_state_dicts(conv.state_dict, model, scopes=('backbone.', ))
        if not report.ok:
            raise ValueError(f'{src}: its backbone does not fit the segmentor: '
                             f'{report.describe()}')
    study.log(conv.summary())
    save_conversion(conv, dst, meta=dict(pretext_checkpoint=src))
    backbone, head = conv.counts
    return dict(mapped=len(conv.mapped), backbone=backbone, decode_head=head,
                decoder=conv.decoder if why is None else None)
