"""Patch-level rotation (PLR): predict each patch's rotation, per pixel, with an encoder-decoder."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F

from mmsoco.datasets.transforms.patch_rotation import IGNORE_INDEX
from mmsoco.host import BaseModel, DataSample
from mmsoco.registry import MODELS

#: Rotations by 0, 90, 180 and 270 degrees.
NUM_ANGLES = 4


def labels_at_output(labels: torch.Tensor, out_size: Tuple[int, int]) -> torch.Tensor:
    """Read a per-pixel label map at the decoder's output cells.

    The decoder's cell ``(a, b)`` at stride ``s`` covers input pixels ``[a*s, (a+1)*s)``; it takes
    the label of the pixel ``s // 2`` into the cell (its centre), so a cell that a patch edge
    crosses takes the patch that holds its centre.

    Args:
        labels (Tensor): shape (N, H, W), per-pixel labels.
        out_size (tuple[int, int]): ``(h, w)`` of the decoder output, ``h = ceil(H / s)``.

    Returns:
        Tensor: shape (N, h, w).
    """
    h, w = out_size
    stride = -(-labels.shape[-2] // h)  # ceil: H / h is the stride up to the last cell
    off = stride // 2
    return labels[:, off::stride, off::stride][:, :h, :w]


@MODELS.register_module()
class PatchRotation(BaseModel):
    """Patch-level rotation: every patch of the input is rotated by k x 90 degrees
    (:class:`RandomPatchRotate`), and the encoder-decoder predicts k at every output cell.

    The loss is the cross-entropy of the decoder's 4 class scores (``decode_head.conv_seg``, the
    4-angle classifier) against the label map read at the decoder's resolution
    (:func:`labels_at_output`); gap pixels (label 255) are ignored.

    Args:
        backbone (dict): :class:`PretextEncoderDecoder` config, ``decode_head.num_classes=4``.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        classes = backbone.get('decode_head', {}).get('num_classes')
        if classes != NUM_ANGLES or not backbone.get('classifier', True):
            raise ValueError(f'PatchRotation predicts {NUM_ANGLES} angles: set '
                             f'model.backbone.decode_head.num_classes={NUM_ANGLES} (is {classes}) '
                             'and keep the classifier')
        super().__init__(backbone=backbone, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)

    @staticmethod
    def _view(inputs: Union[torch.Tensor, List[torch.Tensor]]) -> torch.Tensor:
        # mmselfsup's PackSelfSupInputs packs the one view as a list, mmpretrain's PackInputs as is
        return inputs if isinstance(inputs, torch.Tensor) else inputs[0]

    @staticmethod
    def _labels(data_samples: List[DataSample]) -> torch.Tensor:
        # patch_rot: in pseudo_label (mmselfsup's PackSelfSupInputs(pseudo_label_keys=...)), or a
        # field of its own (mmpretrain's PackInputs(algorithm_keys=...), still a numpy array)
        return torch.stack([torch.as_tensor(ds.patch_rot if 'patch_rot' in ds
                                            else ds.pseudo_label.patch_rot)
                            for ds in data_samples])

    def extract_feat(self, inputs: List[torch.Tensor], **kwargs) -> Tuple[torch.Tensor]:
        """Angle scores of the first view, ``((N, 4, h, w), )``."""
        return (self.backbone(self._view(inputs)), )

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample], **kwargs) -> Dict[str, torch.Tensor]:
        """Per-cell cross-entropy of the rotation angle.

        Args:
            inputs (list[Tensor] or Tensor): One view, shape (N, 3, H, W): the rotated patches
                (in a list on mmselfsup).
            data_samples (list[DataSample]): ``pseudo_label.patch_rot`` (mmselfsup) or
                ``patch_rot`` (mmpretrain) of each, (H, W).

        Returns:
            dict[str, Tensor]: ``loss`` and ``acc`` (angle accuracy over the labelled cells).
        """
        logits = self.backbone(self._view(inputs))                            # N x 4 x h x w
        labels = self._labels(data_samples)                                   # N x H x W
        target = labels_at_output(labels.to(logits.device).long(), logits.shape[-2:])
        loss = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)
        valid = target != IGNORE_INDEX
        acc = (logits.argmax(1) == target)[valid].float().mean()
        return dict(loss=loss, acc=acc.detach())
