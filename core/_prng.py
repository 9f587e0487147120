r"""Fast, bit-exact stand-ins for ``jax.random.split`` and ``jax.random.normal``.

jax lowers the threefry-2x32 hash on the CPU as a 5-iteration while loop (to keep compile times
short). Inside a ``lax.scan`` step that costs ~4x more per number than the unrolled hash and adds
a loop per draw: in a batched bee journey the noise draws dominated the step. Here the hash's 20
rounds are unrolled; :func:`split_key` and :func:`standard_normal` return exactly what
``jax.random`` returns for threefry keys (tested bit for bit) and defer to ``jax.random`` for any
other key type or setting.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))  # threefry-2x32 rotation schedule
_NORMAL_LOW = np.nextafter(np.float32(-1.0), np.float32(0.0))


def _threefry2x32(k0: Array, k1: Array, x0: Array, x1: Array) -> tuple[Array, Array]:
    """Threefry-2x32 block cipher with 20 rounds (Salmon et al. 2011), key ``(k0, k1)``,
    counter ``(x0, x1)`` (uint32, broadcast), every round unrolled."""
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for block in range(5):
        for r in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = x0 ^ ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r)))
        x0 = x0 + ks[(block + 1) % 3]
        x1 = x1 + ks[(block + 2) % 3] + np.uint32(block + 1)
    return x0, x1


def _key_data(key: PRNGKeyArray) -> Array | None:
    """The uint32 words of a single threefry key, or None when :func:`split_key` and
    :func:`standard_normal` must defer to ``jax.random`` (another PRNG or bit layout)."""
    if not jax.config.jax_threefry_partitionable:
        return None
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if str(jax.random.key_impl(key)) != "threefry2x32" or key.shape != ():
            return None
        return jax.random.key_data(key)
    if jax.config.jax_default_prng_impl != "threefry2x32" or key.shape != (2,):
        return None
    return key


def split_key(key: PRNGKeyArray, num: int = 2) -> PRNGKeyArray:
    """``jax.random.split(key, num)`` for one key, bit for bit (see the module docstring)."""
    data = _key_data(key)
    if data is None:
        return jax.random.split(key, num)
    counter = jnp.arange(num, dtype=jnp.uint32)
    hi, lo = _threefry2x32(data[0], data[1], jnp.zeros_like(counter), counter)
    words = jnp.stack([hi, lo], axis=-1)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(words, impl=jax.random.key_impl(key))
    return words


def standard_normal(key: PRNGKeyArray, shape: tuple[int, ...]) -> Array:
    r"""``jax.random.normal(key, shape)`` (float32) bit for bit: threefry bits -> a uniform
    ``u`` in :math:`(-1, 1)` -> :math:`\sqrt{2}\,\mathrm{erf}^{-1}(u)` (see the module docstring)."""
    data = _key_data(key)
    if data is None:
        return jax.random.normal(key, shape, jnp.float32)
    counter = jnp.arange(int(np.prod(shape)), dtype=jnp.uint32).reshape(shape)
    hi, lo = _threefry2x32(data[0], data[1], jnp.zeros_like(counter), counter)
    mantissa = ((hi ^ lo) >> np.uint32(9)) | np.uint32(0x3F800000)  # a float in [1, 2)
    unit = jax.lax.bitcast_convert_type(mantissa, jnp.float32) - np.float32(1.0)
    u = jnp.maximum(_NORMAL_LOW, unit * (np.float32(1.0) - _NORMAL_LOW) + _NORMAL_LOW)
    return np.float32(np.sqrt(2.0)) * jax.lax.erf_inv(u)
