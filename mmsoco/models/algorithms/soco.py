"""SoCo: Selective Object COntrastive learning (Wei et al., NeurIPS 2021)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmsoco.host import BaseModel, DataSample
from mmsoco.registry import MODELS

#: Why ``roi_pooling='single'`` cannot take the released recipes' data (one line).
PER_PAIR_NEEDS_ORIGINAL = (
    "roi_pooling='single' embeds each view once, but the data gives V1 one box set per pair "
    "(SoCoOriginalViews, the released recipes): set model.roi_pooling='original'")


def shared_view(view_pairs: Sequence[Tuple[int, int]]) -> Optional[int]:
    """A view that belongs to more than one pair (V1 in SoCo), or None."""
    views = [v for pair in view_pairs for v in pair]
    return next((v for v in views if views.count(v) > 1), None)


def pooling_error(roi_pooling: str, view_pairs: Sequence[Tuple[int, int]],
                  boxes_per_pair: bool) -> Optional[str]:
    """Why a model cannot take its data's boxes (one line), or None.

    The one rule of pooling against data: ``roi_pooling='single'`` embeds a view once, so a
    view shared by several pairs must have one box set for all of them.

    Args:
        roi_pooling (str): The model's ``roi_pooling``.
        view_pairs (Sequence[tuple]): The model's ``view_pairs``.
        boxes_per_pair (bool): Whether the data gives a shared view one box set per pair
            (``boxes_per_pair`` of the pipeline's view transform).
    """
    if boxes_per_pair and roi_pooling != 'original' and shared_view(view_pairs) is not None:
        return PER_PAIR_NEEDS_ORIGINAL
    return None


def box_set_index(box_sets: Sequence[tuple],
                  view_pairs: Sequence[Tuple[int, int]]) -> Dict[tuple, int]:
    """Which box set serves each view of each pair.

    Args:
        box_sets (Sequence[tuple]): The data's ``(view, pair)`` per set, ``pair=None`` for
            every pair of the view (see :class:`PackSoCoInputs`).
        view_pairs (Sequence[tuple]): The model's pairs.

    Returns:
        dict[tuple[int, tuple], int]: ``(view, pair) -> set index``.
    """
    lookup = {(v, None if p is None else tuple(p)): s for s, (v, p) in enumerate(box_sets)}
    index = {}
    for pair in view_pairs:
        for v in pair:
            s = lookup.get((v, pair), lookup.get((v, None)))
            if s is None:
                given = sorted({tuple(p) for _, p in box_sets if p is not None})
                raise ValueError(f'the data gives boxes for the view pairs {given} but the model '
                                 f"pairs {list(view_pairs)}: set model.view_pairs to the "
                                 "pipeline's")
            index[(v, pair)] = s
    return index


def box_sets_of(data_sample: DataSample) -> List[tuple]:
    """The ``box_sets`` of a data sample; one set per view when it has none."""
    sets = data_sample.metainfo.get('box_sets')
    return sets if sets is not None else [(v, None) for v in range(len(data_sample.view_bboxes))]


@MODELS.register_module()
class SoCo(BaseModel):
    """Object-level BYOL on selective-search proposals.

    Every view goes through ``backbone -> neck (FPN, optional) -> roi_extractor -> head ->
    projector``; the online network adds the ``predictor``, the target network is a momentum
    average (:class:`CosineMomentumEMA`) of the rest.  For each pair ``(a, b)`` in ``view_pairs``
    and its mirror, the online embedding of box k in view a predicts the target embedding of box
    k in view b: ``loss_v{a+1}_v{b+1} = mean -2 cos(q_a, z_b)`` over the valid boxes (per image,
    then over images, for ``loss_reduction='image'``).  ``docs/data_pipeline.md`` tells the two
    ``roi_pooling`` modes and what the released recipes need.

    ``roi_pooling='single'``: each view is embedded once (each box pooled from its assigned
    level, the view's N*K boxes one BN batch), shared by its pairs.  ``'original'``: the original
    code's forward, exactly: for every pair a view belongs to, each of the L levels pools all
    N*K boxes and is embedded as a BN batch of its own; each box keeps its level's output.

    Inputs: ``inputs`` (list of V tensors (N, 3, H_v, W_v)) and ``data_samples`` with the box
    sets of :class:`PackSoCoInputs`: ``view_bboxes`` (S, K, 4), ``proposal_ids`` (S, K),
    ``proposal_valid`` (S, K), metainfo ``box_sets``.

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
        roi_pooling (str): ``'single'`` (default) or ``'original'``.  A view that gets one box
            set per pair (the released recipes' V1) needs ``'original'`` (:func:`pooling_error`).
        loss_reduction (str): ``'image'`` (default, the original code's): average each image's
            valid boxes, then the images that have any.  ``'box'``: average all valid boxes.
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
    def pack_rois(data_samples: List[DataSample],
                  num_views: Optional[int] = None) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Gather every box set of the batch into RoIs.

        Args:
            data_samples (list[DataSample]): Each with ``view_bboxes`` (S, K, 4),
                ``proposal_ids`` (S, K), ``proposal_valid`` (S, K) and ``box_sets`` in its
                metainfo (see :class:`PackSoCoInputs`; default one set per view).
            num_views (int, optional): Number of image views, checked against the box sets.

        Returns:
            tuple: ``rois`` -- S tensors of shape (N*K, 5) (batch index, x1, y1, x2, y2), image
            by image, and ``valid`` -- bool tensor of shape (N, S, K).
        """
        bboxes = torch.stack([s.view_bboxes for s in data_samples])          # N x S x K x 4
        ids = torch.stack([s.proposal_ids for s in data_samples])            # N x S x K
        sets = box_sets_of(data_samples[0])
        if num_views is not None and 1 + max(v for v, _ in sets) != num_views:
            raise ValueError(f'{1 + max(v for v, _ in sets)} views of boxes for {num_views} '
                             'image views')
        # box k of the sets that serve one pair must be the same proposal (one sync)
        first = {}
        ia, ib = zip(*[(first.setdefault(p, s), s) for s, (_, p) in enumerate(sets)])
        if not bool((ids[:, list(ia)] == ids[:, list(ib)]).all()):
            raise ValueError('proposal_ids differ across views: box k of every view of a pair '
                             'must be the same proposal')
        n, num_sets, k, _ = bboxes.shape
        batch_idx = torch.arange(n, device=bboxes.device, dtype=bboxes.dtype)
        batch_idx = batch_idx.repeat_interleave(k)[:, None]                   # (N*K) x 1
        rois = [torch.cat([batch_idx, bboxes[:, s].reshape(n * k, 4)], dim=1)
                for s in range(num_sets)]                                     # S x (N*K) x 5
        valid = torch.stack([s.proposal_valid for s in data_samples]).bool()  # N x S x K
        return rois, valid

    def _rois_per_pair(self, data_samples: List[DataSample], num_views: int):
        """RoIs keyed ``(view, pair)`` (N*K, 5) and validity keyed ``pair`` (N, K).

        A view whose pairs get one box set each needs ``roi_pooling='original'``
        (:func:`pooling_error`).
        """
        set_rois, valid = self.pack_rois(data_samples, num_views)
        index = box_set_index(box_sets_of(data_samples[0]), self.view_pairs)
        per_pair = any(index[(v, p)] != index[(v, q)] for p in self.view_pairs
                       for q in self.view_pairs for v in set(p) & set(q))
        error = pooling_error(self.roi_pooling, self.view_pairs, per_pair)
        if error:
            raise ValueError(error)
        rois = {key: set_rois[s] for key, s in index.items()}
        return rois, {pair: valid[:, index[(pair[0], pair)]] for pair in self.view_pairs}

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

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute SoCo's losses.

        Args:
            inputs (list[Tensor]): Views V1..V_V, each of shape (N, 3, H_v, W_v).
            data_samples (list[DataSample]): Box sets, see :meth:`pack_rois`.

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
