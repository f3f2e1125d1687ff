"""Take SoCo checkpoints to detectors and segmentors: MMDetection 3.x, MMSegmentation 1.x and
Detectron2 converters, Mini COCO, the checkpoints of the original SoCo release into mmsoco's
layout, the start of a continued-pretraining run, and the publish step.

Shared by every converter: :func:`build_model_from_cfg` (the model a config builds, under its
library's scope), :func:`save_conversion` (the saved file), :mod:`.reading` (weights-only
loading), :mod:`.key_check` (the strict check) and :class:`KeyTable` (renames in both
directions from one table).

Used by ``tools/model_converters/*.py``, ``tools/publish_model.py``,
``tools/dataset_converters/mini_coco.py`` and the study; the rest of the package does not import
this module.
"""
from .builder import build_detector, build_model_from_cfg, build_segmentor, build_soco_model
from .from_original import (OriginalConversion, convert_original_checkpoint,
                            load_original_checkpoint)
from .init_checkpoint import (SOCO_START, InitCheckpointError, InitConversion, StartLayout,
                              convert_init_checkpoint, convert_init_state)
from .key_rules import KeyTable
from .mini_coco import make_mini_coco, mini_coco_name, sample_image_ids, write_mini_coco
from .publish import publish_checkpoint
from .saving import save_conversion
from .soco_checkpoint import (SoCoCheckpointError, detect_variant, load_soco_checkpoint,
                              split_networks)
from .to_detectron2 import (convert_to_detectron2, detect_detectron2_variant,
                            detectron2_key_to_soco, load_detectron2_pickle, save_detectron2_pickle,
                            soco_key_to_detectron2)
from .to_mmdet import (DETECTORS, Conversion, DetectorLayout, check_against_detector,
                       convert_soco_checkpoint, convert_state_dict, layout_for,
                       layout_from_config, save_mmdet_checkpoint)
from .to_mmseg import (SegConversion, check_against_segmentor, neck_from_config,
                       save_mmseg_checkpoint)

__all__ = [
    'build_model_from_cfg', 'build_detector', 'build_segmentor', 'build_soco_model',
    'save_conversion', 'KeyTable', 'publish_checkpoint',
    'SoCoCheckpointError', 'load_soco_checkpoint', 'split_networks', 'detect_variant',
    'DETECTORS', 'DetectorLayout', 'Conversion', 'layout_for', 'layout_from_config',
    'convert_state_dict', 'convert_soco_checkpoint', 'check_against_detector',
    'save_mmdet_checkpoint', 'convert_to_detectron2', 'save_detectron2_pickle',
    'load_detectron2_pickle', 'soco_key_to_detectron2', 'detectron2_key_to_soco',
    'detect_detectron2_variant', 'make_mini_coco', 'mini_coco_name', 'sample_image_ids',
    'write_mini_coco', 'OriginalConversion', 'convert_original_checkpoint',
    'load_original_checkpoint', 'SegConversion', 'check_against_segmentor',
    'neck_from_config', 'save_mmseg_checkpoint', 'InitCheckpointError', 'InitConversion',
    'StartLayout', 'SOCO_START', 'convert_init_checkpoint', 'convert_init_state'
]
