"""``seqtk.encoder_decoder``, the path before the areas became folders: :mod:`seqtk.nn.encoder_decoder`,
with ``EncoderDecoderConfig`` (now :mod:`seqtk.config.model_config`) as it used to be."""

from seqtk.config.model_config import EncoderDecoderConfig
from seqtk.nn.encoder_decoder import DecoderState, EncoderDecoder, EncoderDecoderSettings, RnnState

__all__ = ["DecoderState", "EncoderDecoder", "EncoderDecoderConfig", "EncoderDecoderSettings", "RnnState"]
