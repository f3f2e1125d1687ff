"""Patch-level MoCo (PLMoCo): momentum contrast between the matched cells of two views."""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import ExponentialMovingAverage

from mmsoco.datasets.cell_matching import NO_MATCH, geometric_match, similarity_match
from mmsoco.datasets.fallbacks import FallbackCounter
from mmsoco.host import (STEM_OUTPUT_RESNETS, BaseModel, DataSample, batch_shuffle_ddp,
                         batch_unshuffle_ddp)
from mmsoco.registry import MODELS
from ..utils.feature_queue import FeatureQueue

MATCHINGS = ('geometric', 'feature')


def backbone_stride(backbone: nn.Module) -> Optional[int]:
    """Output stride of a ResNet-like backbone's last output, from its configuration.

    The stem (7x7 conv and max-pool, or the deep stem) divides by 4, each stage by its stride
    (dilation keeps the resolution).  None when the module does not say (no ``strides``).
    """
    strides = getattr(backbone, 'strides', None)
    out_indices = getattr(backbone, 'out_indices', None)
    if strides is None or out_indices is None:
        return None
    # mmselfsup's ResNet counts the stem as output 0 (mmsoco.host); mmcls', mmpretrain's, mmseg's
    # and mmdet's count stages
    stages = max(out_indices) + (0 if isinstance(backbone, STEM_OUTPUT_RESNETS) else 1)
    return 4 * math.prod(strides[:stages])


@MODELS.register_module()
class PatchMoCo(BaseModel):
    """MoCo on the cells of a dense feature map: a query cell's positive is its match in the key
    view, its negatives a queue of key cells.

    The query encoder is ``backbone`` (its last output, at ``out_stride``: ResNet-50 with stage 4
    dilated gives 1/16) followed by ``neck``, mmselfsup's :class:`DenseCLNeck`: a per-cell
    projector (1x1 conv, ReLU, 1x1 conv to ``feat_dim``) beside MoCo v2's global projector.
    The key encoder is a momentum copy of both (mmselfsup's MoCo: ``ExponentialMovingAverage``,
    buffers copied, batch shuffled across GPUs for BN).

    **Matching** (``matching``): ``'geometric'`` (default) maps each query cell's centre through
    the two views' crop/resize/flip matrices (``view_matrices`` in each data sample, made by
    :class:`GeometricMultiView`) into the key view; its positive is the key cell the centre falls
    in.  A centre outside the key view has no positive and the cell is left out of the loss.
    ``'feature'`` is DenseCL's: the key cell whose backbone feature is most similar (cosine
    argmax), for every query cell.

    **Loss**: InfoNCE per matched cell with mmselfsup's :class:`ContrastiveHead` (temperature
    0.2 in the configs), all matched cells of the batch weighing the same:

    .. math::
        \\mathcal{L} = -\\frac{1}{|M|} \\sum_{(n, i) \\in M}
        \\log \\frac{\\exp(q_{ni} \\cdot k_{n m(i)} / \\tau)}
        {\\exp(q_{ni} \\cdot k_{n m(i)} / \\tau) + \\sum_{j} \\exp(q_{ni} \\cdot z_j / \\tau)}

    The negatives :math:`z_j` are ``queue_len`` key-cell embeddings: after every step each
    image's key view puts ``cells_per_image`` of its cells, drawn uniformly without replacement,
    into the queue (gathered from all GPUs; the oldest leave).  With ``key_view_negatives`` the
    other cells of the same key view are negatives too (off by default: neighbouring cells
    overlap in content).

    **Global term** (``global_weight`` w > 0): MoCo v2 on the images (the neck's global
    projection, its own queue of ``queue_len``) mixed in as DenseCL does:
    ``loss_patch * (1 - w) + loss_global * w`` (DenseCL's w is 0.5).  The default, w = 0, is the
    notes' patch-level task alone.

    **No positive**: a pair of views that shares no cell centre (geometric matching) adds no
    term; the images are counted (``FallbackCounter``, logged the first time and every
    ``log_interval`` steps) and logged per step as ``images_without_match``; a batch without any
    positive gives a zero loss that keeps the graph, never NaN.

    Args:
        backbone (dict): Backbone config; its last output is the dense map.
        neck (dict): :class:`DenseCLNeck` config (``num_grid=None``: every cell).
        head (dict): :class:`ContrastiveHead` config.
        queue_len (int): Keys in each queue. Defaults to 65536.
        feat_dim (int): Embedding dimension. Defaults to 128.
        momentum (float): Key encoder momentum. Defaults to 0.999.
        out_stride (int): Output stride of the dense map; the backbone must give it.
            Defaults to 16.
        matching (str): ``'geometric'`` or ``'feature'``. Defaults to ``'geometric'``.
        cells_per_image (int): Key cells each image enqueues per step. Defaults to 16.
        key_view_negatives (bool): Add the key view's other cells as negatives.
            Defaults to False.
        global_weight (float): Weight w of the global MoCo term. Defaults to 0.
        log_interval (int): Steps between summaries of the no-match count. Defaults to 1000.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 momentum: float = 0.999,
                 out_stride: int = 16,
                 matching: str = 'geometric',
                 cells_per_image: int = 16,
                 key_view_negatives: bool = False,
                 global_weight: float = 0.,
                 log_interval: int = 1000,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        name = type(self).__name__
        if matching not in MATCHINGS:
            raise ValueError(f'{name}: matching must be one of {MATCHINGS}, got {matching!r}')
        if not 0. <= global_weight <= 1.:
            raise ValueError(f'{name}: global_weight must lie in [0, 1], got {global_weight}')
        if cells_per_image < 1:
            raise ValueError(f'{name}: cells_per_image must be >= 1, got {cells_per_image}')
        self.out_stride = out_stride
        self._check_stride(self.map_stride())
        self.matching = matching
        self.cells_per_image = cells_per_image
        self.key_view_negatives = key_view_negatives
        self.global_weight = global_weight

        self.encoder_k = ExponentialMovingAverage(self.online_encoder(), 1 - momentum)
        self.cell_queue = FeatureQueue(feat_dim, queue_len)
        self.global_queue = FeatureQueue(feat_dim, queue_len) if global_weight > 0 else None
        self.fallbacks = FallbackCounter(
            name, dict(images_without_match='the two views of an image share no cell centre: '
                       'the image adds no positive to the patch loss'), log_interval)

    # ------------------------------------------------------------------------------------------
    # encoders
    def online_encoder(self) -> nn.Sequential:
        """The query encoder's modules in order; the key encoder averages the same list."""
        return nn.Sequential(self.backbone, self.neck)

    def map_stride(self) -> Optional[int]:
        """The dense map's output stride as the configuration gives it (None: unknown)."""
        return backbone_stride(self.backbone)

    def _check_stride(self, stride: Optional[int], where: str = 'model.backbone') -> None:
        if stride is not None and stride != self.out_stride:
            raise ValueError(
                f'{type(self).__name__}: out_stride={self.out_stride} but {where} gives a map '
                f'at stride {stride}; ResNet at 16: strides=(1, 2, 2, 1), dilations=(1, 1, 1, '
                '2); at 8: strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4); at 32: strides=(1, 2, '
                '2, 2), dilations=(1, 1, 1, 1)')

    @staticmethod
    def dense_map(encoder: nn.Sequential, img: torch.Tensor) -> torch.Tensor:
        """The map whose cells are contrasted: the backbone's last output, (N, C, h, w)."""
        return encoder[0](img)[-1]

    def encode(self, encoder: nn.Sequential,
               img: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Dense map (N, C, h, w), global embedding (N, D) and cell embeddings (N, D, h*w),
        both embeddings L2-normalised."""
        dense = self.dense_map(encoder, img)
        global_, cells, _ = encoder[-1]([dense])
        return dense, F.normalize(global_, dim=1), F.normalize(cells, dim=1)

    def extract_feat(self, inputs: List[torch.Tensor], **kwargs) -> Tuple[torch.Tensor]:
        """The dense map of the first view, as a 1-tuple."""
        return (self.dense_map(self.online_encoder(), inputs[0]), )

    # ------------------------------------------------------------------------------------------
    # matching
    def match(self, q_dense: torch.Tensor, k_dense: torch.Tensor, views: Sequence[torch.Tensor],
              data_samples: List[DataSample]) -> torch.Tensor:
        """The key cell of every query cell, or ``NO_MATCH``: (N, h_q * w_q)."""
        if self.matching == 'feature':
            return similarity_match(q_dense.flatten(2), k_dense.flatten(2))
        if not all('view_matrices' in s for s in data_samples):
            raise KeyError(f"{type(self).__name__}(matching='geometric') needs each view's "
                           "matrix: build the views with GeometricMultiView and pack them with "
                           "PackSelfSupInputs(meta_keys=[..., 'view_matrices'])")
        matrices = torch.stack([torch.as_tensor(s.view_matrices) for s in data_samples])
        matrices = matrices.to(q_dense.device)                                   # N x V x 3 x 3
        return geometric_match(matrices[:, 0], matrices[:, 1], q_dense.shape[-2:],
                               k_dense.shape[-2:], views[1].shape[-2:], self.out_stride)

    def _check_map(self, dense: torch.Tensor, view: torch.Tensor) -> None:
        expected = tuple(math.ceil(s / self.out_stride) for s in view.shape[-2:])
        if tuple(dense.shape[-2:]) != expected:
            self._check_stride(round(view.shape[-1] / dense.shape[-1]), 'the dense map')

    # ------------------------------------------------------------------------------------------
    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Patch-level InfoNCE of view 0 (queries) against view 1 (keys).

        Args:
            inputs (list[Tensor]): Two views, (N, 3, H, W) each.
            data_samples (list[DataSample]): With ``view_matrices`` (2, 3, 3) for
                geometric matching.

        Returns:
            dict[str, Tensor]: ``loss_patch`` (and ``loss_global``); logged only:
            ``matched_share`` (matched query cells / all) and ``images_without_match``.
        """
        im_q, im_k = inputs[0], inputs[1]
        q_dense, q_global, q_cells = self.encode(self.online_encoder(), im_q)  # NxD, NxDxSq
        self._check_map(q_dense, im_q)

        with torch.no_grad():
            self.encoder_k.update_parameters(self.online_encoder())
            im_k, idx_unshuffle = batch_shuffle_ddp(im_k)     # shuffled across GPUs for BN
            k_dense, k_global, k_cells = (batch_unshuffle_ddp(t, idx_unshuffle)
                                          for t in self.encode(self.encoder_k.module, im_k))

        match = self.match(q_dense, k_dense, inputs, data_samples)              # N x Sq
        img_idx, q_idx = torch.nonzero(match != NO_MATCH, as_tuple=True)         # M, M
        k_idx = match[img_idx, q_idx]
        q = q_cells.transpose(1, 2)[img_idx, q_idx]                              # M x D
        k = k_cells.transpose(1, 2)[img_idx, k_idx]                              # M x D

        without = int((match == NO_MATCH).all(dim=1).sum())
        self.fallbacks.add('images_without_match', without)
        self.fallbacks.step()
        losses = {}
        if len(q):
            l_pos = (q * k).sum(dim=1, keepdim=True)                             # M x 1
            l_neg = q @ self.cell_queue()                                         # M x K
            if self.key_view_negatives:
                l_view = torch.bmm(q_cells.transpose(1, 2), k_cells)[img_idx, q_idx]  # M x Sk
                l_view = l_view.scatter(1, k_idx[:, None], float('-inf'))         # not its positive
                l_neg = torch.cat([l_neg, l_view], dim=1)
            loss_patch = self.head(l_pos, l_neg)
        else:  # no positive in the batch: a zero that keeps every parameter in the graph
            loss_patch = q_cells.sum() * 0.
        if self.global_queue is not None:
            l_pos = (q_global * k_global).sum(dim=1, keepdim=True)               # N x 1
            l_neg = q_global @ self.global_queue()                                # N x K
            losses['loss_global'] = self.head(l_pos, l_neg) * self.global_weight
            losses['loss_patch'] = loss_patch * (1 - self.global_weight)
            self.global_queue.enqueue(k_global)
        else:  # the global projector is unused: * 0. keeps DDP's graph the same on every rank
            losses['loss_patch'] = loss_patch + q_global.sum() * 0.

        self.cell_queue.enqueue(self._cells_to_enqueue(k_cells))
        losses['matched_share'] = (match != NO_MATCH).float().mean()
        losses['images_without_match'] = q_cells.new_tensor(float(without))
        return losses

    def _cells_to_enqueue(self, k_cells: torch.Tensor) -> torch.Tensor:
        """``cells_per_image`` key cells of every image, drawn without replacement: (N*c, D)."""
        n, dim, cells = k_cells.shape
        if self.cells_per_image > cells:
            raise ValueError(f'{type(self).__name__}: cells_per_image={self.cells_per_image} '
                             f'but a key view has {cells} cells at stride {self.out_stride}: '
                             'lower model.cells_per_image or enlarge the views')
        pick = torch.rand(n, cells, device=k_cells.device).argsort(dim=1)[:, :self.cells_per_image]
        chosen = torch.gather(k_cells, 2, pick[:, None].expand(-1, dim, -1))     # N x D x c
        return chosen.transpose(1, 2).reshape(-1, dim)
