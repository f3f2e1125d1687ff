"""SoCo: Selective Object COntrastive learning (Wei et al., NeurIPS 2021)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmselfsup.models.algorithms.base import BaseModel
from mmselfsup.structures import SelfSupDataSample

from mmsoco.registry import MODELS


@MODELS.register_module()
class SoCo(BaseModel):
    """Object-level BYOL on selective-search proposals.

    Every view (V1 224px, V2 a 224px crop of V1, V3 = V2 at 112px, optionally V4 a 192px crop)
    goes through ``backbone -> neck (FPN, optional) -> roi_extractor -> head -> projector``;
    the online network adds the ``predictor``.  The target network is a momentum average
    (:class:`CosineMomentumEMA`) of backbone, neck, head and projector.  For each pair ``(a, b)``
    in ``view_pairs`` and its mirror ``(b, a)``, the online embedding of every box in view ``a``
    predicts the target embedding of the same proposal in view ``b``:

    .. math::
        \\mathcal{L}_{a \\to b} = \\frac{1}{|valid|} \\sum_{boxes} -2 \\cos(q_a, z_b)

    With the default ``view_pairs=((0, 1), (0, 2))`` the total is the paper's Eq. 5-6,
    symmetrized: ``loss_v1_v2 + loss_v1_v3 + loss_v2_v1 + loss_v3_v1``.

    Args:
        backbone (dict): Backbone config (ResNet-50; 3 stages for the C4 variant).
        neck (dict, optional): Feature pyramid (``mmdet.FPN`` with P2-P5); None for C4.
        roi_extractor (dict): RoI feature extractor, :class:`ScaleAwareRoIExtractor` for FPN.
        head (dict): Box head: :class:`RCNNHead` (FPN) or ``mmdet.ResLayer`` res5 (C4).
        projector (dict): :class:`ProjectionMLP` config.
        predictor (dict): :class:`ProjectionMLP` config (online network only).
        view_pairs (Sequence[tuple[int, int]]): Pairs ``(a, b)`` of view indices; each is used
            in both directions. Defaults to ``((0, 1), (0, 2))``; SoCo* adds ``(0, 3)``.
        base_momentum (float): Target momentum at the start. Defaults to 0.99.
        end_momentum (float): Target momentum at the end. Defaults to 1.
        roi_pooling (str): ``'single'`` pools each box from its assigned level (default);
            ``'all'`` pools every box on every level, runs head, projector and predictor on all
            of them and keeps the assigned level's output, as the original code did (it pooled
            all levels and masked the loss); for benchmarks.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict],
                 roi_extractor: dict,
                 head: dict,
                 projector: dict,
                 predictor: dict,
                 view_pairs: Sequence[Tuple[int, int]] = ((0, 1), (0, 2)),
                 base_momentum: float = 0.99,
                 end_momentum: float = 1.,
                 roi_pooling: str = 'single',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if roi_pooling not in ('single', 'all'):
            raise ValueError(f"roi_pooling must be 'single' or 'all', got {roi_pooling!r}")
        self.roi_extractor = MODELS.build(roi_extractor)
        self.projector = MODELS.build(projector)
        self.predictor = MODELS.build(predictor)
        self.view_pairs = [tuple(p) for p in view_pairs]
        self.roi_pooling = roi_pooling

        self.target_net = MODELS.build(
            dict(type='CosineMomentumEMA', model=nn.ModuleDict(self._online_network()),
                 momentum=base_momentum, end_momentum=end_momentum))

    def _online_network(self) -> Dict[str, nn.Module]:
        """The modules the target network averages: all of the online network but the predictor."""
        net = dict(backbone=self.backbone, head=self.head, projector=self.projector)
        if self.with_neck:
            net['neck'] = self.neck
        return net

    # ------------------------------------------------------------------ features
    def extract_feat(self, inputs: List[torch.Tensor], **kwargs) -> Tuple[torch.Tensor]:
        """Feature maps of the first view.

        Args:
            inputs (list[Tensor]): Views, each of shape (N, 3, H, W).

        Returns:
            tuple[Tensor]: FPN levels P2-P5 (or C4 alone).
        """
        return self._feature_maps(self.backbone, self.neck if self.with_neck else None,
                                  inputs[0])

    @staticmethod
    def _feature_maps(backbone: nn.Module, neck: Optional[nn.Module],
                      img: torch.Tensor) -> Tuple[torch.Tensor]:
        x = backbone(img)
        return tuple(neck(x)) if neck is not None else tuple(x)

    def _box_embeddings(self, net: Dict[str, nn.Module], img: torch.Tensor,
                        rois: torch.Tensor,
                        predictor: Optional[nn.Module] = None) -> torch.Tensor:
        """Embed every box of one view through ``net`` (and ``predictor``, online only).

        With ``roi_pooling='all'`` every box goes through head, projector and predictor once per
        level, and only its assigned level's output is kept: the original code's strategy of
        pooling all levels and masking the loss, at ``num_levels`` times the box work.

        Args:
            net (dict[str, nn.Module]): ``backbone``, ``head``, ``projector`` and maybe ``neck``.
            img (Tensor): One view, shape (N, 3, H, W).
            rois (Tensor): shape (N*K, 5), first column is the batch index, boxes in view pixels.
            predictor (nn.Module, optional): Applied after the projector. Defaults to None.

        Returns:
            Tensor: shape (N*K, C_proj).
        """
        feats = self._feature_maps(net['backbone'], net['neck'] if 'neck' in net else None, img)
        all_levels = self.roi_pooling == 'all' and len(feats) > 1
        if all_levels:
            pooled = self.roi_extractor.pool_all_levels(feats, rois)       # (L*n) x C x 7 x 7
        else:
            pooled = self.roi_extractor(feats, rois)                       # n x C x 7 x 7
        emb = net['projector'](self._pool_head(net['head'](pooled)))       # n (or L*n) x C_proj
        if predictor is not None:
            emb = predictor(emb)
        if all_levels:
            n = rois.size(0)
            levels = self.roi_extractor.map_roi_levels(rois, len(feats))  # n
            emb = emb.view(len(feats), n, -1)[levels, torch.arange(n, device=emb.device)]
        return emb

    @staticmethod
    def _pool_head(x: torch.Tensor) -> torch.Tensor:
        # the C4 head (res5) returns maps: average them into one vector per box
        return x.mean(dim=(2, 3)) if x.dim() == 4 else x

    # ------------------------------------------------------------------ loss
    @staticmethod
    def pack_rois(data_samples: List[SelfSupDataSample],
                  num_views: int) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Gather each view's boxes of the batch into RoIs.

        Args:
            data_samples (list[SelfSupDataSample]): Each with ``view_bboxes`` (V, K, 4),
                ``proposal_ids`` (V, K) and ``proposal_valid`` (K,).
            num_views (int): Number of views V in ``inputs``.

        Returns:
            tuple: ``rois`` -- V tensors of shape (N*K, 5) (batch index, x1, y1, x2, y2), and
            ``valid`` -- bool tensor of shape (N*K,).
        """
        bboxes = torch.stack([s.view_bboxes for s in data_samples])          # N x V x K x 4
        ids = torch.stack([s.proposal_ids for s in data_samples])            # N x V x K
        if bboxes.size(1) != num_views:
            raise ValueError(f'{bboxes.size(1)} views of boxes for {num_views} image views')
        if not bool((ids == ids[:, :1]).all()):
            raise ValueError('proposal_ids differ across views: box k of every view must be '
                             'the same proposal')
        n, _, k, _ = bboxes.shape
        batch_idx = torch.arange(n, device=bboxes.device, dtype=bboxes.dtype)
        batch_idx = batch_idx.repeat_interleave(k)[:, None]                   # (N*K) x 1
        rois = [torch.cat([batch_idx, bboxes[:, v].reshape(n * k, 4)], dim=1)
                for v in range(num_views)]                                    # V x (N*K) x 5
        valid = torch.stack([s.proposal_valid for s in data_samples]).reshape(n * k).bool()
        return rois, valid

    @staticmethod
    def pair_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``-2 cos(pred, target)`` averaged over valid boxes (paper Eq. 5).

        Args:
            pred (Tensor): Online predictions, shape (n, C).
            target (Tensor): Target projections, shape (n, C); no gradient flows into it.
            valid (Tensor): bool, shape (n,).

        Returns:
            Tensor: scalar loss.
        """
        cos = F.cosine_similarity(pred, target.detach(), dim=1)              # n
        valid = valid.to(cos.dtype)
        return -2. * (cos * valid).sum() / valid.sum().clamp(min=1.)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[SelfSupDataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute SoCo's losses.

        Args:
            inputs (list[Tensor]): Views V1..V_V, each of shape (N, 3, H_v, W_v).
            data_samples (list[SelfSupDataSample]): Boxes per view, see :meth:`pack_rois`.

        Returns:
            dict[str, Tensor]: ``loss_v{a}_v{b}`` for every directed pair (online view a predicts
            target view b), and ``momentum`` (logged only).
        """
        assert isinstance(inputs, list), 'SoCo expects a list of views'
        rois, valid = self.pack_rois(data_samples, len(inputs))
        used = sorted({v for pair in self.view_pairs for v in pair})
        if used[-1] >= len(inputs):
            raise ValueError(f'view_pairs use view {used[-1] + 1} but only {len(inputs)} views '
                             'came from the pipeline')

        online_net = self._online_network()
        online = {v: self._box_embeddings(online_net, inputs[v], rois[v], self.predictor)
                  for v in used}                                              # (N*K) x C
        with torch.no_grad():
            momentum = self.target_net.update_parameters(nn.ModuleDict(online_net))
            target = {v: self._box_embeddings(self.target_net.module, inputs[v], rois[v])
                      for v in used}                                          # (N*K) x C

        losses = {}
        for a, b in self.view_pairs:
            losses[f'loss_v{a + 1}_v{b + 1}'] = self.pair_loss(online[a], target[b], valid)
            losses[f'loss_v{b + 1}_v{a + 1}'] = self.pair_loss(online[b], target[a], valid)
        losses['momentum'] = torch.tensor(momentum)
        return losses
