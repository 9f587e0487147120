"""The unrolled threefry draws of :mod:`snnviz.core._prng` equal ``jax.random``'s bit for bit."""

import jax
import jax.numpy as jnp
import numpy as np

from snnviz.core._prng import split_key, standard_normal


def test_unrolled_threefry_draws_are_jax_random_bit_for_bit():
    keys = jax.random.split(jax.random.key(11), 5)
    for key in [*keys, jax.random.PRNGKey(3)]:
        expected = jax.random.key_data(jax.random.split(key, 3))
        got = split_key(key, 3)
        got = jax.random.key_data(got) if got.dtype != jnp.uint32 else got
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
        for shape in [(76,), (3, 76), (5,)]:
            np.testing.assert_array_equal(
                np.asarray(jax.jit(standard_normal, static_argnums=1)(key, shape)),
                np.asarray(jax.random.normal(key, shape)),
            )
    # batched under vmap, and statistically a standard normal
    batch = jax.vmap(lambda k: standard_normal(k, (76,)))(keys)
    np.testing.assert_array_equal(
        np.asarray(batch), np.asarray(jax.vmap(lambda k: jax.random.normal(k, (76,)))(keys))
    )
    many = np.asarray(standard_normal(jax.random.key(0), (200_000,)))
    assert abs(many.mean()) < 0.01 and abs(many.std() - 1.0) < 0.01
