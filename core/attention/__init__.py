"""Attention kernels and the small decoder-only transformer they plug into.

- :mod:`.decoder`: :class:`Decoder` with a pluggable kernel, the ideal :class:`SoftmaxAttention`;
- :mod:`.plastic`: attention as plasticity, a fast-weight memory written per token by an
  outer-product rule (:class:`PlasticAttention`, float or fixed point), equal to causal linear
  attention (:class:`LinearAttention`); :mod:`.icl_tasks` and :mod:`.icl_model`: few-shot
  in-context classification with it;
- :mod:`.gaincell`: sliding-window attention in analog gain cells (:class:`GainCellAttention`),
  :mod:`.adaptation` of pre-trained weights to the cells, :mod:`.charlm` the character model,
  :mod:`.hardware_cost` the energy/latency/area calculator.
"""

from .decoder import Decoder, SoftmaxAttention, causal_softmax_attention
from .gaincell import GainCellAttention
from .plastic import LinearAttention, PlasticAttention, causal_linear_attention

__all__ = [
    "Decoder",
    "GainCellAttention",
    "LinearAttention",
    "PlasticAttention",
    "SoftmaxAttention",
    "causal_linear_attention",
    "causal_softmax_attention",
]
