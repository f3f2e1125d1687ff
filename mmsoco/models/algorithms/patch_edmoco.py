"""Patch-level encoder-decoder MoCo (PLEDMoCo): PLMoCo on an encoder-decoder's output map."""
from typing import Optional

from mmsoco.registry import MODELS

from .patch_moco import PatchMoCo


@MODELS.register_module()
class PatchEDMoCo(PatchMoCo):
    """:class:`PatchMoCo` whose query and key encoders are a :class:`PretextEncoderDecoder`.

    The cells contrasted are those of the decoder's output map (the decode head without its
    classifier ``conv_seg``), at the encoder-decoder's stride (16 for ResNet-50 D16 + MoCoFCN);
    everything else (matching, queue, key momentum, loss, options) is PatchMoCo's.  The
    encoder-decoder holds exactly the keys of an mmseg ``EncoderDecoder``, so the segmenter with
    the same decode head starts from the pretrained decoder (``soco2mmseg``).

    Args:
        backbone (dict): :class:`PretextEncoderDecoder` config; ``classifier`` and
            ``return_tuple`` are set here.
        neck (dict): ``DenseCLNeck`` with ``in_channels`` the decoder's ``channels``.
        head (dict): ``ContrastiveHead`` config.
        **kwargs: The other arguments of :class:`PatchMoCo`.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, **kwargs) -> None:
        backbone = dict(backbone, classifier=False, return_tuple=True)
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        channels = self.backbone.out_channels
        if neck['in_channels'] != channels:
            raise ValueError(f'model.neck.in_channels={neck["in_channels"]} but the decoder '
                             f'outputs {channels} channels (decode_head.channels): set them equal')

    def map_stride(self) -> Optional[int]:
        """The encoder-decoder's output stride (its ``stride``)."""
        return self.backbone.stride
