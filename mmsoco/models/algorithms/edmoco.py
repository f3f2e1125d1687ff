"""Encoder-decoder MoCo (EDMoCo): MoCo v2 on the globally pooled output of an encoder-decoder."""
from typing import List, Optional, Union

from mmsoco.host import MoCo
from mmsoco.registry import MODELS


@MODELS.register_module()
class EDMoCo(MoCo):
    """MoCo v2 whose query and key encoders are a :class:`PretextEncoderDecoder`.

    Everything but the encoder is mmselfsup's ``MoCo``: the key encoder (a momentum average of
    backbone and neck), the queue and its update, the shuffled key batch, ``NonLinearNeck`` and
    ``ContrastiveHead`` and the MoCo v2 projector ``MoCoV2Neck``.  The encoder-decoder runs without
    its classifier (``conv_seg``) and hands the decoder's feature map to the neck as a 1-tuple; the
    neck (``with_avg_pool=True``) pools it to one vector per image.

    Args:
        backbone (dict): :class:`PretextEncoderDecoder` config; ``classifier`` and
            ``return_tuple`` are set here.
        neck (dict): ``MoCoV2Neck`` (or ``NonLinearNeck``) with ``in_channels`` the decoder's
            ``channels`` and ``with_avg_pool=True``.
        head (dict): ``ContrastiveHead`` (temperature 0.2 in MoCo v2).
        queue_len (int): Defaults to 65536.
        feat_dim (int): Dimension of the projection. Defaults to 128.
        momentum (float): Key encoder momentum. Defaults to 0.999.
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
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        if not neck.get('with_avg_pool', True):
            raise ValueError('EDMoCo pools the decoder output to one vector per image: set '
                             'model.neck.with_avg_pool=True')
        backbone = dict(backbone, classifier=False, return_tuple=True)
        super().__init__(backbone=backbone, neck=neck, head=head, queue_len=queue_len,
                         feat_dim=feat_dim, momentum=momentum,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        channels = self.backbone.out_channels
        if neck['in_channels'] != channels:
            raise ValueError(f'model.neck.in_channels={neck["in_channels"]} but the decoder '
                             f'outputs {channels} channels (decode_head.channels): set them equal')
