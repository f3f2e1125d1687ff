"""SoCo: Selective Object COntrastive learning (Wei et al., NeurIPS 2021)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmselfsup.models.algorithms.base import BaseModel
from mmselfsup.structures import SelfSupDataSample

from mmsoco.registry import MODELS

#: Why ``roi_pooling='single'`` cannot take the released recipes' data (one line).
PER_PAIR_NEEDS_ORIGINAL = (
    "roi_pooling='single' embeds each view once, but the data gives V1 one box set per pair "
    "(SoCoViews(select='after_crop'), the released recipes): set model.roi_pooling='original'")


def shared_view(view_pairs: Sequence[Tuple[int, int]]) -> Optional[int]:
    """A view that belongs to more than one pair (V1 in SoCo), or None."""
    views = [v for pair in view_pairs for v in pair]
    return next((v for v in views if views.count(v) > 1), None)


@MODELS.register_module()
class SoCo(BaseModel):
    """Object-level BYOL on selective-search proposals.

    Every view (V1 224px, V2 a 224px crop of V1, V3 = V2 at 112px, optionally V4 a 192px crop)
    goes through ``backbone -> neck (FPN, optional) -> roi_extractor -> head -> projector``;
    the online network adds the ``predictor``.  The target network is a momentum average
    (:class:`CosineMomentumEMA`) of backbone, neck, head and projector.  For each pair ``(a, b)``
    in ``view_pairs`` and its mirror ``(b, a)``, the online embedding of every box in view ``a``
    predicts the target embedding of the same proposal in view ``b``.  With
    ``loss_reduction='image'`` (the original code's):

    .. math::
        \\mathcal{L}_{a \\to b} = \\frac{1}{|I|} \\sum_{i \\in I} \\frac{1}{|B_i|}
        \\sum_{k \\in B_i} -2 \\cos(q_a^{ik}, z_b^{ik})

    where :math:`B_i` are the valid boxes of image :math:`i` and :math:`I` the images with at
    least one.  With ``loss_reduction='box'`` all valid boxes of the batch weigh the same.  With
    the default ``view_pairs=((0, 1), (0, 2))`` the total is the paper's Eq. 5-6, symmetrized:
    ``loss_v1_v2 + loss_v1_v3 + loss_v2_v1 + loss_v3_v1``.

    ``roi_pooling`` decides how boxes become embeddings; the two modes differ only in which
    boxes share a batch-norm batch in the head, projector and predictor (and the FPN-level
    choice, the RoIAlign geometry and the weights are the same):

    - ``'single'`` (default, the fast path): each view is embedded once.  Each box is pooled
      once, from its assigned level; the N*K boxes of a view form one BN batch mixing all levels,
      and that embedding serves every pair the view belongs to.
    - ``'original'``: the original code's forward, exactly.  Per view the FPN levels are computed
      once; then, once for *every pair the view belongs to* (V1 twice with the default pairs,
      V2 and V3 once), each of the L levels pools all N*K boxes and runs head -> projector ->
      predictor (online) or head -> projector (target) as a BN batch of its own; each box keeps
      its assigned level's output.  The target network does the same as the online one, after
      the momentum update, in the same order (view by view, its pairs in ``view_pairs`` order),
      so running statistics also evolve as in the original.  L times the box work of
      ``'single'``, plus one more box pass per extra pair of a view.  With one level (C4) only
      the per-pair passes differ from ``'single'``.

    The released recipes (``SoCoViews(select='after_crop')``) give V1 one box set per pair
    (``pair_bboxes``): ``'original'`` then embeds V1 for each pair with that pair's boxes, as the
    original; ``'single'``, which embeds V1 once, refuses them.

    What ``'original'`` still does differently, both on the data side: box k of one view is
    matched with box k of the other and the repeats that pad an image to K boxes are masked
    (``proposal_valid``), so each proposal of an image weighs the same; the original matched
    every pair of boxes with the same proposal id, so a proposal that its random padding drew
    more often weighed more.  And the original scaled boxes by each feature map's size over
    the view's, not by ``1 / stride``; the two differ only where a view side is not a multiple
    of the stride (V3, 112 px, on P5: 4 px, not 3.5), a level no V3 box is assigned to
    (side <= 112), so only that level's running statistics can differ, never the loss.

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
        roi_pooling (str): ``'single'`` (default) or ``'original'``, see above.
        loss_reduction (str): ``'image'`` (default, the original code's): average each image's
            valid boxes, then the images that have any; an image without a valid box is left
            out of the mean (the original would count it as a zero loss, diluting the others;
            the SoCo pipeline never makes one).  ``'box'``: average all valid boxes of the batch.
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
                 loss_reduction: str = 'image',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if roi_pooling not in ('single', 'original'):
            raise ValueError(f"roi_pooling must be 'single' or 'original', got {roi_pooling!r}")
        if loss_reduction not in ('image', 'box'):
            raise ValueError(f"loss_reduction must be 'image' or 'box', got {loss_reduction!r}")
        self.roi_extractor = MODELS.build(roi_extractor)
        self.projector = MODELS.build(projector)
        self.predictor = MODELS.build(predictor)
        self.view_pairs = [tuple(p) for p in view_pairs]
        self.roi_pooling = roi_pooling
        self.loss_reduction = loss_reduction

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

    def _embed(self, net: Dict[str, nn.Module], pooled: torch.Tensor,
               predictor: Optional[nn.Module]) -> torch.Tensor:
        """head -> projector (-> predictor) on pooled RoI features (n, C, h, w): (n, C_proj)."""
        emb = net['projector'](self._pool_head(net['head'](pooled)))
        return predictor(emb) if predictor is not None else emb

    def _box_embeddings(self, net: Dict[str, nn.Module], feats: Tuple[torch.Tensor],
                        rois: torch.Tensor,
                        predictor: Optional[nn.Module] = None) -> torch.Tensor:
        """Embed every box of one view through ``net`` (and ``predictor``, online only).

        ``roi_pooling='single'``: each box pooled from its level, one batch.  ``'original'``: each
        level pools every box and is embedded as a batch of its own; each box keeps its assigned
        level's output.

        Args:
            net (dict[str, nn.Module]): ``head`` and ``projector`` (and more, unused here).
            feats (tuple[Tensor]): The view's feature levels, each of shape (N, C, H_l, W_l).
            rois (Tensor): shape (N*K, 5), first column is the batch index, boxes in view pixels.
            predictor (nn.Module, optional): Applied after the projector. Defaults to None.

        Returns:
            Tensor: shape (N*K, C_proj).
        """
        if self.roi_pooling == 'single' or len(feats) == 1:
            return self._embed(net, self.roi_extractor(feats, rois), predictor)  # n x C_proj
        per_level = torch.stack([
            self._embed(net, pooled, predictor)                                 # n x C_proj
            for pooled in self.roi_extractor.pool_all_levels(feats, rois)
        ])                                                                      # L x n x C_proj
        levels = self.roi_extractor.map_roi_levels(rois, len(feats))           # n
        return per_level[levels, torch.arange(rois.size(0), device=rois.device)]

    def _view_embeddings(self, net: Dict[str, nn.Module], inputs: List[torch.Tensor],
                         rois: Dict[tuple, torch.Tensor],
                         predictor: Optional[nn.Module] = None) -> Dict[tuple, torch.Tensor]:
        """Box embeddings of every view used, keyed ``(view, pair)`` for each pair of the view.

        Views go one at a time (backbone and neck once per view).  ``'single'`` embeds a view's
        boxes once and shares the result across its pairs; ``'original'`` embeds them once per
        pair, in ``view_pairs`` order, as the original code did (V1 for V2, then V1 for V3),
        each time with that pair's boxes ``rois[(view, pair)]`` (N*K, 5).

        Returns:
            dict[tuple[int, tuple], Tensor]: ``(v, pair) -> (N*K, C_proj)``.
        """
        out = {}
        for v in sorted({v for pair in self.view_pairs for v in pair}):
            feats = self._feature_maps(net['backbone'], net['neck'] if 'neck' in net else None,
                                       inputs[v])
            emb = None
            for pair in (p for p in self.view_pairs if v in p):
                if emb is None or self.roi_pooling == 'original':
                    emb = self._box_embeddings(net, feats, rois[(v, pair)], predictor)  # NK x C
                out[(v, pair)] = emb
        return out

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
            tuple: ``rois`` -- V tensors of shape (N*K, 5) (batch index, x1, y1, x2, y2), image
            by image, and ``valid`` -- bool tensor of shape (N, K).
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
        valid = torch.stack([s.proposal_valid for s in data_samples]).bool()  # N x K
        return rois, valid

    @staticmethod
    def pack_pair_rois(data_samples: List[SelfSupDataSample], view_pairs: Sequence[tuple]
                       ) -> Tuple[Dict[tuple, torch.Tensor], Dict[tuple, torch.Tensor]]:
        """Gather the boxes of every pair of the batch into RoIs, one set per (view, pair).

        Args:
            data_samples (list[SelfSupDataSample]): Each with ``pair_bboxes`` (P, 2, K, 4),
                ``pair_valid`` (P, K) and ``view_pairs`` in its metainfo (see
                :class:`PackSoCoInputs`).
            view_pairs (Sequence[tuple]): The model's pairs, which must be the data's.

        Returns:
            tuple: ``rois`` -- ``(view, pair) -> (N*K, 5)`` (batch index, x1, y1, x2, y2), and
            ``valid`` -- ``pair -> bool (N, K)``.
        """
        pairs = [tuple(p) for p in view_pairs]
        data_pairs = [tuple(p) for p in data_samples[0].view_pairs]
        if data_pairs != pairs:
            raise ValueError(f'the data gives boxes for the view pairs {data_pairs} but the model '
                             f'pairs {pairs}: set model.view_pairs to the pipeline\'s')
        bboxes = torch.stack([s.pair_bboxes for s in data_samples])          # N x P x 2 x K x 4
        valid = torch.stack([s.pair_valid for s in data_samples]).bool()     # N x P x K
        n, _, _, k, _ = bboxes.shape
        batch_idx = torch.arange(n, device=bboxes.device, dtype=bboxes.dtype)
        batch_idx = batch_idx.repeat_interleave(k)[:, None]                   # (N*K) x 1
        rois, valid_of = {}, {}
        for p, pair in enumerate(pairs):
            for side, v in enumerate(pair):
                rois[(v, pair)] = torch.cat(
                    [batch_idx, bboxes[:, p, side].reshape(n * k, 4)], dim=1)  # (N*K) x 5
            valid_of[pair] = valid[:, p]                                         # N x K
        return rois, valid_of

    def _rois_per_pair(self, data_samples: List[SelfSupDataSample], num_views: int):
        """RoIs keyed ``(view, pair)`` and validity keyed ``pair``, from either packing."""
        if 'pair_bboxes' in data_samples[0]:
            if self.roi_pooling != 'original' and shared_view(self.view_pairs) is not None:
                raise ValueError(PER_PAIR_NEEDS_ORIGINAL)
            return self.pack_pair_rois(data_samples, self.view_pairs)
        view_rois, valid = self.pack_rois(data_samples, num_views)
        rois = {(v, pair): view_rois[v] for pair in self.view_pairs for v in pair}
        return rois, {pair: valid for pair in self.view_pairs}

    @staticmethod
    def pair_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                  reduction: str = 'image') -> torch.Tensor:
        """``-2 cos(pred, target)`` averaged over valid boxes (paper Eq. 5), in fp32.

        Args:
            pred (Tensor): Online predictions, shape (N*K, C), image by image.
            target (Tensor): Target projections, shape (N*K, C); no gradient flows into it.
            valid (Tensor): bool, shape (N, K).
            reduction (str): ``'image'``: mean over each image's valid boxes, then over the
                images with at least one; ``'box'``: mean over all valid boxes. Defaults to
                ``'image'``.

        Returns:
            Tensor: scalar float32 loss (0 with a graph when no box is valid).
        """
        # fp32 whatever autocast produced: the cosine of 256-d bf16 vectors loses digits
        cos = F.cosine_similarity(pred.float(), target.detach().float(), dim=1)  # N*K
        cos = cos.view(valid.shape)                                              # N x K
        valid = valid.to(cos.dtype)
        if reduction == 'box':
            return -2. * (cos * valid).sum() / valid.sum().clamp(min=1.)
        if reduction != 'image':
            raise ValueError(f"reduction must be 'image' or 'box', got {reduction!r}")
        count = valid.sum(dim=1)                                                 # N
        per_image = (cos * valid).sum(dim=1) / count.clamp(min=1.)              # N
        has_box = (count > 0).to(cos.dtype)                                      # N
        return -2. * (per_image * has_box).sum() / has_box.sum().clamp(min=1.)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[SelfSupDataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute SoCo's losses.

        Args:
            inputs (list[Tensor]): Views V1..V_V, each of shape (N, 3, H_v, W_v).
            data_samples (list[SelfSupDataSample]): Boxes per view, see :meth:`pack_rois`,
                or per pair, see :meth:`pack_pair_rois`.

        Returns:
            dict[str, Tensor]: ``loss_v{a}_v{b}`` for every directed pair (online view a predicts
            target view b), and ``momentum`` (logged only).
        """
        assert isinstance(inputs, list), 'SoCo expects a list of views'
        used = max(v for pair in self.view_pairs for v in pair)
        if used >= len(inputs):
            raise ValueError(f'view_pairs use view {used + 1} but only {len(inputs)} views '
                             'came from the pipeline')
        rois, valid = self._rois_per_pair(data_samples, len(inputs))

        online_net = self._online_network()
        online = self._view_embeddings(online_net, inputs, rois, self.predictor)
        with torch.no_grad():
            momentum = self.target_net.update_parameters(nn.ModuleDict(online_net))
            target = self._view_embeddings(self.target_net.module, inputs, rois)

        losses = {}
        for pair in self.view_pairs:
            a, b = pair
            losses[f'loss_v{a + 1}_v{b + 1}'] = self.pair_loss(
                online[(a, pair)], target[(b, pair)], valid[pair], self.loss_reduction)
            losses[f'loss_v{b + 1}_v{a + 1}'] = self.pair_loss(
                online[(b, pair)], target[(a, pair)], valid[pair], self.loss_reduction)
        losses['momentum'] = torch.tensor(momentum)
        return losses
