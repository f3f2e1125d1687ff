from .pretext_encoder_decoder import PretextEncoderDecoder

__all__ = ['PretextEncoderDecoder']
