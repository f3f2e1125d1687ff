"""Take SoCo checkpoints to detectors and segmentors: MMDetection 3.x, MMSegmentation 1.x and
Detectron2 converters, Mini COCO, and the checkpoints of the original SoCo release into mmsoco's
layout.

Used by ``tools/model_converters/soco2mmdet.py``, ``tools/model_converters/soco2mmseg.py``,
``tools/model_converters/soco2detectron2.py``, ``tools/model_converters/original2soco.py`` and
``tools/dataset_converters/mini_coco.py``; the package itself does not import this module.
"""
from .from_original import (OriginalConversion, convert_original_checkpoint,
                            load_original_checkpoint)
from .mini_coco import make_mini_coco, mini_coco_name, sample_image_ids, write_mini_coco
from .soco_checkpoint import (SoCoCheckpointError, detect_variant, load_soco_checkpoint,
                              split_networks)
from .to_detectron2 import (convert_to_detectron2, detect_detectron2_variant,
                            detectron2_key_to_soco, load_detectron2_pickle, save_detectron2_pickle,
                            soco_key_to_detectron2)
from .to_mmdet import (DETECTORS, Conversion, DetectorLayout, build_detector,
                       check_against_detector, convert_soco_checkpoint, convert_state_dict,
                       layout_for, layout_from_config, save_mmdet_checkpoint)
from .to_mmseg import (SegConversion, build_segmentor, check_against_segmentor, neck_from_config,
                       save_mmseg_checkpoint)

__all__ = [
    'SoCoCheckpointError', 'load_soco_checkpoint', 'split_networks', 'detect_variant',
    'DETECTORS', 'DetectorLayout', 'Conversion', 'layout_for', 'layout_from_config',
    'convert_state_dict', 'convert_soco_checkpoint', 'check_against_detector', 'build_detector',
    'save_mmdet_checkpoint', 'convert_to_detectron2', 'save_detectron2_pickle',
    'load_detectron2_pickle', 'soco_key_to_detectron2', 'detectron2_key_to_soco',
    'detect_detectron2_variant', 'make_mini_coco', 'mini_coco_name', 'sample_image_ids',
    'write_mini_coco', 'OriginalConversion', 'convert_original_checkpoint',
    'load_original_checkpoint', 'SegConversion', 'build_segmentor', 'check_against_segmentor',
    'neck_from_config', 'save_mmseg_checkpoint'
]
