r"""Connectivity builders: fixed fan-in, dense weight matrices, fan-out tables.

The basic object is a **fan-in table** ``pre_idx`` of shape ``(n_post, fan_in)``: row ``i``
lists the presynaptic partners of postsynaptic neuron ``i``. Everything else is derived from it:

* :func:`dense_weights` - the dense ``(n_post, n_pre)`` weight matrix ``W`` (the reference path,
  :math:`I_i = \sum_j W_{ij} s_j`);
* :func:`adjacency_rows` - the transposed 0/1 matrix as ``uint8`` rows, one per *presynaptic*
  neuron (what the event-driven ``rows`` propagation reads);
* :func:`fan_out_lists` - padded per-presynaptic target lists (what the event-driven ``lists``
  propagation scatters).

Tables are built once, outside ``jit``, with numpy; they are seeded by a JAX key so that a
``(seed, sizes)`` pair always gives the same network.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from jaxtyping import PRNGKeyArray


def numpy_rng(key: PRNGKeyArray) -> np.random.Generator:
    """A numpy ``Generator`` seeded deterministically by a JAX key (typed or raw uint32)."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        data = jax.random.key_data(key)
    else:
        data = key
    return np.random.default_rng(np.asarray(data, dtype=np.uint32).ravel().tolist())


def fixed_fan_in(
    key: PRNGKeyArray,
    n_pre: int,
    n_post: int,
    fan_in: int,
    *,
    autapses: bool = True,
    pre_offset: int = 0,
) -> np.ndarray:
    """Each postsynaptic neuron draws exactly ``fan_in`` *distinct* presynaptic partners.

    **Arguments:**

    - ``n_pre``, ``n_post``: population sizes; ``fan_in`` partners per postsynaptic neuron.
    - ``autapses``: if False, no neuron connects to itself. Pre and post are then taken to share
      one numbering in which presynaptic neuron ``j`` is neuron ``pre_offset + j`` (so for the
      inhibitory population of a network whose first ``n_exc`` neurons are excitatory, pass
      ``pre_offset=n_exc``).

    **Returns:** ``int32`` array ``(n_post, fan_in)`` of presynaptic indices in
    ``[0, n_pre)``, each row sorted and without repeats. Every ``fan_in``-subset of the allowed
    partners is equally likely.
    """
    for name, value in (("n_pre", n_pre), ("n_post", n_post), ("fan_in", fan_in)):
        if int(value) != value or value < 0:
            raise ValueError(f"fixed_fan_in: `{name}` must be a non-negative integer, got {value}")
    self_idx = np.arange(n_post) - pre_offset
    has_self = (not autapses) & (self_idx >= 0) & (self_idx < n_pre)
    n_avail = n_pre - has_self.astype(np.int64)  # allowed partners per row
    if n_post and fan_in > n_avail.min():
        raise ValueError(
            f"fixed_fan_in: `fan_in`={fan_in} exceeds the {int(n_avail.min())} allowed presynaptic "
            f"partners (n_pre={n_pre}, autapses={autapses}); lower fan_in or enlarge the population"
        )
    rng = numpy_rng(key)
    if n_post == 0 or fan_in == 0:
        return np.zeros((n_post, fan_in), np.int32)
    if 2 * fan_in > n_avail.min():
        draw = _dense_draw(rng, n_avail, fan_in)
    else:
        draw = _sparse_draw(rng, n_avail, fan_in)
    # skip the neuron itself: values at or above its own index move up by one
    draw = np.where(has_self[:, None] & (draw >= self_idx[:, None]), draw + 1, draw)
    return np.sort(draw, axis=1).astype(np.int32)


def _sparse_draw(rng: np.random.Generator, n_avail: np.ndarray, fan_in: int) -> np.ndarray:
    """Distinct draws by redrawing duplicates until none are left.

    The procedure treats all labels alike, so the resulting set is uniform over subsets.
    Expected redraws per row are ``~fan_in^2 / (2 n)``, so this is for ``fan_in <= n / 2``.
    """
    n_rows = n_avail.shape[0]
    draw = rng.integers(0, n_avail[:, None], size=(n_rows, fan_in))
    while True:
        draw.sort(axis=1)
        dup = np.zeros_like(draw, dtype=bool)
        dup[:, 1:] = draw[:, 1:] == draw[:, :-1]
        if not dup.any():
            return draw
        rows = np.nonzero(dup)[0]
        draw[dup] = rng.integers(0, n_avail[rows])


def _dense_draw(rng: np.random.Generator, n_avail: np.ndarray, fan_in: int) -> np.ndarray:
    """Distinct draws as the first ``fan_in`` entries of a random permutation (dense case)."""
    n_max = int(n_avail.max())
    out = np.empty((n_avail.shape[0], fan_in), np.int64)
    block = max(1, 2**24 // max(n_max, 1))  # bound the scratch memory
    for start in range(0, n_avail.shape[0], block):
        sl = slice(start, start + block)
        keys = rng.random((len(n_avail[sl]), n_max))
        keys[np.arange(n_max)[None, :] >= n_avail[sl, None]] = np.inf  # not allowed
        out[sl] = np.argpartition(keys, fan_in - 1, axis=1)[:, :fan_in]
    return out


def ei_fan_in(
    key: PRNGKeyArray,
    n_exc: int,
    n_inh: int,
    c_exc: int,
    c_inh: int,
    *,
    n_post: int | None = None,
    autapses: bool = False,
) -> np.ndarray:
    """Fan-in table of an excitatory/inhibitory network with ``n_exc + n_inh`` presynaptic neurons.

    Neurons ``[0, n_exc)`` are excitatory, ``[n_exc, n_exc + n_inh)`` inhibitory. Each of the
    ``n_post`` postsynaptic neurons (default: the network itself, recurrent) draws exactly
    ``c_exc`` excitatory and ``c_inh`` inhibitory partners. **Returns** ``int32``
    ``(n_post, c_exc + c_inh)`` *global* presynaptic indices: the first ``c_exc`` columns are
    excitatory, the last ``c_inh`` inhibitory. ``autapses`` only matters for the recurrent case.
    """
    recurrent = n_post is None
    n_post = n_exc + n_inh if recurrent else n_post
    k_exc, k_inh = jax.random.split(key)
    no_self = recurrent and not autapses
    exc = fixed_fan_in(k_exc, n_exc, n_post, c_exc, autapses=not no_self, pre_offset=0)
    inh = fixed_fan_in(k_inh, n_inh, n_post, c_inh, autapses=not no_self, pre_offset=n_exc)
    return np.concatenate([exc, inh + n_exc], axis=1).astype(np.int32)


def dense_weights(
    pre_idx: np.ndarray, n_pre: int, presyn_weight: float | np.ndarray = 1.0
) -> np.ndarray:
    """Dense ``(n_post, n_pre)`` float32 matrix ``W`` with ``W[i, j] = sum of presyn_weight[j]``
    over the occurrences of ``j`` in row ``i`` of ``pre_idx``.

    ``presyn_weight`` is a scalar or an ``(n_pre,)`` array (e.g. ``+J`` for excitatory and
    ``-gJ`` for inhibitory neurons, see :func:`ei_presyn_weights`).
    """
    pre_idx = np.asarray(pre_idx)
    weight = np.broadcast_to(np.asarray(presyn_weight, np.float32), (n_pre,))
    w = np.zeros((pre_idx.shape[0], n_pre), np.float32)
    rows = np.broadcast_to(np.arange(pre_idx.shape[0])[:, None], pre_idx.shape)
    np.add.at(w, (rows, pre_idx), weight[pre_idx])
    return w


def ei_presyn_weights(n_exc: int, n_inh: int, j_exc: float, g: float) -> np.ndarray:
    """``(n_exc + n_inh,)`` weights: ``+j_exc`` for excitatory, ``-g * j_exc`` for inhibitory."""
    return np.concatenate(
        [np.full(n_exc, j_exc, np.float32), np.full(n_inh, -g * j_exc, np.float32)]
    )


def adjacency_rows(pre_idx: np.ndarray, n_pre: int) -> np.ndarray:
    """``uint8`` matrix ``A`` of shape ``(n_pre, n_post)``, ``A[j, i] = 1`` iff ``j -> i``.

    Row ``j`` is the fan-out of presynaptic neuron ``j``. Needs a fan-in table without repeats
    within a row (as :func:`fixed_fan_in` makes). Memory: ``n_pre * n_post`` bytes.
    """
    pre_idx = np.asarray(pre_idx)
    _check_no_repeats(pre_idx, "adjacency_rows")
    n_post = pre_idx.shape[0]
    rows = np.zeros((n_pre, n_post), np.uint8)
    rows[pre_idx, np.broadcast_to(np.arange(n_post)[:, None], pre_idx.shape)] = 1
    return rows


def _check_no_repeats(pre_idx: np.ndarray, owner: str) -> None:
    if pre_idx.shape[1] > 1 and np.any(np.diff(np.sort(pre_idx, axis=1), axis=1) == 0):
        raise ValueError(
            f"{owner}: the fan-in table repeats a presynaptic partner within a row; 0/1 rows "
            "cannot hold two synapses per pair - use fan_out_lists for multapses"
        )


def packed_width(n_post: int) -> int:
    """Bytes per row of :func:`packed_rows`: ``H = max(1, ceil(ceil(n_post / 4) / 2))``."""
    words = -(-int(n_post) // 4)  # ceil(n_post / 4) nibbles
    return max(1, -(-words // 2))


def packed_rows(pre_idx: np.ndarray, n_pre: int, *, block: int = 2048) -> np.ndarray:
    """Fan-out rows packed four bits per postsynaptic neuron group: ``uint8 (n_pre, H)``.

    The layout that :func:`~snnviz.core.synapses.rows_input` reads (``n_pre * n_post / 8``
    bytes: 12.5 MB at 10,000 x 10,000). Postsynaptic neurons ``4w .. 4w + 3`` form the 4-bit
    *nibble* ``w`` (bit ``k`` set iff ``j -> 4w + k``); with ``H = ceil(ceil(n_post / 4) / 2)``,
    byte ``m`` of row ``j`` holds nibble ``m`` in its low and nibble ``m + H`` in its high half.
    Built in blocks of ``block`` presynaptic neurons, never materialising the dense matrix.
    """
    pre_idx = np.asarray(pre_idx)
    _check_no_repeats(pre_idx, "packed_rows")
    n_post = pre_idx.shape[0]
    half = packed_width(n_post)
    out = np.zeros((n_pre, half), np.uint8)
    flat_pre = pre_idx.ravel()
    order = np.argsort(flat_pre, kind="stable")
    bounds = np.searchsorted(flat_pre[order], np.arange(0, n_pre + block, block))
    weights = (1 << np.arange(8, dtype=np.uint8)).astype(np.uint8)
    for b, start in enumerate(range(0, n_pre, block)):
        stop = min(start + block, n_pre)
        sel = order[bounds[b] : bounds[b + 1]]
        dense = np.zeros((stop - start, 8 * half), np.uint8)
        dense[flat_pre[sel] - start, sel // pre_idx.shape[1]] = 1
        # nibble w = bits of posts 4w..4w+3; byte m = nibble m | nibble (m + H) << 4
        nibbles = dense.reshape(stop - start, 2, half, 4)
        lo = (nibbles[:, 0] * weights[:4]).sum(-1, dtype=np.uint8)
        hi = (nibbles[:, 1] * weights[4:]).sum(-1, dtype=np.uint8)
        out[start:stop] = lo | hi
    return out


class FanOut(NamedTuple):
    """Padded fan-out table built by :func:`fan_out_lists`."""

    targets: np.ndarray  # (n_pre, max_out) int32 postsynaptic indices, padded with n_post
    synapse: (
        np.ndarray
    )  # (n_pre, max_out) int32 flat index into pre_idx (row * fan_in + col), -1 pad
    counts: np.ndarray  # (n_pre,) int32 number of real entries per row


def fan_out_lists(pre_idx: np.ndarray, n_pre: int) -> FanOut:
    """Invert a fan-in table into per-presynaptic target lists (padded to the largest fan-out).

    ``synapse`` maps each entry back to its fan-in slot, so per-synapse quantities stored in the
    fan-in layout (``weights[i, c]``, ``delays[i, c]``) can be gathered as
    ``weights.ravel()[synapse]``.
    """
    pre_idx = np.asarray(pre_idx)
    n_post, fan_in = pre_idx.shape
    flat_pre = pre_idx.ravel()
    order = np.argsort(flat_pre, kind="stable")
    counts = np.bincount(flat_pre, minlength=n_pre).astype(np.int32)
    max_out = max(int(counts.max(initial=0)), 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_pre = flat_pre[order]
    slot = np.arange(order.size) - starts[sorted_pre]
    targets = np.full((n_pre, max_out), n_post, np.int32)
    synapse = np.full((n_pre, max_out), -1, np.int32)
    targets[sorted_pre, slot] = order // max(fan_in, 1)
    synapse[sorted_pre, slot] = order
    return FanOut(targets=targets, synapse=synapse, counts=counts)
