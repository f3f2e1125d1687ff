from .rcnn_head import RCNNHead

__all__ = ['RCNNHead']
