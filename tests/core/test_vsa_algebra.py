"""Properties of the hypervector algebra (snnviz.core.vsa.algebra): exact inverses, near-
orthogonality scaling as 1/sqrt(D), the bundle capacity curve against its Gaussian theory, and
the FPE translation property and kernel."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnviz.core.vsa import (
    bind,
    bundle,
    cleanup,
    fpe_encode,
    inverse,
    permute,
    random_bipolar,
    random_fpe_phases,
    random_phasors,
    random_sparse_binary,
    similarity,
    similarity_matrix,
    unbind,
)

CODES = {"phasor": random_phasors, "bipolar": random_bipolar}
seeds = st.integers(0, 2**31 - 1)
dims = st.sampled_from([16, 100, 512, 1000])


@settings(max_examples=25, deadline=None)
@given(seed=seeds, dim=dims, code=st.sampled_from(sorted(CODES)))
def test_unbind_inverts_bind_exactly(seed, dim, code):
    ka, kb = jax.random.split(jax.random.key(seed))
    a, b = CODES[code](ka, (3, dim)), CODES[code](kb, dim)
    np.testing.assert_allclose(unbind(bind(a, b), b), a, atol=2e-6)
    np.testing.assert_allclose(bind(b, inverse(b)), jnp.ones(dim), atol=2e-6)
    np.testing.assert_allclose(similarity(a, a), 1.0, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(seed=seeds, dim=dims, shift=st.integers(1, 15))
def test_permute_is_invertible_and_scrambles(seed, dim, shift):
    a = random_phasors(jax.random.key(seed), (64, dim))
    np.testing.assert_array_equal(permute(permute(a, shift), -shift), a)
    # a random phasor vector and its rotation: similarity ~ N(0, 1/(2D)), mean over 64 vectors
    assert abs(float(jnp.mean(similarity(a, permute(a, shift))))) < 4 / math.sqrt(2 * dim * 64)


@pytest.mark.parametrize("code,variance", [("phasor", 0.5), ("bipolar", 1.0)])
def test_near_orthogonality_scales_as_one_over_sqrt_dim(code, variance):
    """Similarity of independent random vectors has standard deviation sqrt(variance / D)."""
    for i, dim in enumerate((128, 1024, 8192)):
        ka, kb = jax.random.split(jax.random.key(i))
        sims = np.asarray(similarity(CODES[code](ka, (2000, dim)), CODES[code](kb, (2000, dim))))
        expected = math.sqrt(variance / dim)
        # 2000 samples: the sample std is within ~3 % of the truth (4.7 sigma at 7.5 %)
        assert abs(sims.std() / expected - 1) < 0.075, (dim, sims.std(), expected)
        assert abs(sims.mean()) < 4 * expected / math.sqrt(2000)


def _bundle_accuracy_theory(n_items: int, codebook: int, dim: int) -> float:
    """P(cleanup of an unnormalised FHRR bundle of ``n_items`` returns a given member) when its
    score ~ N(1, (K-1)/(2D)) must beat ``codebook - 1`` others ~ N(0, K/(2D)) (the members'
    scores slightly correlate through the shared bundle; ignored)."""
    s = np.linspace(-3, 5, 8001)
    sd_hit = math.sqrt(max(n_items - 1, 1e-12) / (2 * dim))
    sd_miss = math.sqrt(n_items / (2 * dim))
    pdf = np.exp(-0.5 * ((s - 1) / sd_hit) ** 2) / (sd_hit * math.sqrt(2 * math.pi))
    cdf = 0.5 * (1 + np.vectorize(math.erf)(s / (sd_miss * math.sqrt(2))))
    return float(np.trapezoid(pdf * cdf ** (codebook - 1), s))


def test_bundle_capacity_curve_follows_gaussian_theory():
    """Retrieval accuracy of bundle members by cleanup falls with the load like the theory."""
    dim, codebook, trials = 256, 200, 40
    book = random_phasors(jax.random.key(7), (codebook, dim))
    for n_items in (10, 40, 80, 140):
        keys = jax.random.split(jax.random.key(n_items), trials)
        members = jax.vmap(lambda k, n=n_items: jax.random.permutation(k, codebook)[:n])(keys)
        memories = bundle(book[members], axis=1)  # (trials, D)
        # every member of each trial: is it more similar than every non-member?
        sims = np.asarray(similarity_matrix(memories, book))  # (trials, codebook)
        hits = []
        for t in range(trials):
            mask = np.zeros(codebook, bool)
            mask[np.asarray(members[t])] = True
            best_miss = sims[t, ~mask].max()
            hits.extend(sims[t, mask] > best_miss)
        measured = float(np.mean(hits))
        # theory for "beats every non-member": codebook - n_items competitors
        theory = _bundle_accuracy_theory(n_items, codebook - n_items + 1, dim)
        tol = 4 * math.sqrt(max(theory * (1 - theory), 0.01) / trials) + 0.02
        assert abs(measured - theory) < tol, (n_items, measured, theory)


def test_normalised_bundle_stays_on_the_code():
    vs = random_phasors(jax.random.key(0), (5, 300))
    np.testing.assert_allclose(jnp.abs(bundle(vs, normalise=True)), 1.0, atol=1e-6)
    bip = random_bipolar(jax.random.key(1), (4, 300))  # even count: ties go to +1
    out = bundle(bip, normalise=True)
    assert set(np.unique(np.asarray(out))) <= {-1.0, 1.0}
    np.testing.assert_array_equal(out, np.where(np.asarray(bip).sum(0) >= 0, 1.0, -1.0))
    # a normalised bundle of few items still resembles each of them (~ sqrt(1/K) for phasors)
    assert float(similarity(bundle(vs, normalise=True), vs).min()) > 0.25


def test_similarity_matrix_matches_numpy():
    q = random_phasors(jax.random.key(2), (3, 4, 64))
    book = random_phasors(jax.random.key(3), (10, 64))
    ref = np.real(np.asarray(q) @ np.conj(np.asarray(book)).T) / 64
    np.testing.assert_allclose(similarity_matrix(q, book), ref, atol=1e-6)
    idx, sims = cleanup(book[4] + 0.3 * book[1], book)
    assert int(idx) == 4 and sims.shape == (10,)


@settings(max_examples=20, deadline=None)
@given(
    seed=seeds,
    x=st.tuples(st.floats(-5, 5), st.floats(-5, 5)),
    y=st.tuples(st.floats(-5, 5), st.floats(-5, 5)),
)
def test_fpe_binding_adds_positions(seed, x, y):
    phases = random_fpe_phases(jax.random.key(seed), 256, 2)
    zx, zy = fpe_encode(phases, jnp.array(x)), fpe_encode(phases, jnp.array(y))
    xy = jnp.array(x) + jnp.array(y)
    assert float(similarity(bind(zx, zy), fpe_encode(phases, xy))) > 1 - 1e-3


def test_fpe_kernel_is_a_sinc():
    """With phases uniform in bandwidth*[-pi, pi) the similarity kernel is sinc(bandwidth d)."""
    dim, bandwidth = 20000, 2.0
    phases = random_fpe_phases(jax.random.key(5), dim, 1, bandwidth)
    d = jnp.linspace(0.0, 2.0, 21)
    sims = similarity(fpe_encode(phases, d[:, None]), fpe_encode(phases, 0.0))
    np.testing.assert_allclose(sims, np.sinc(bandwidth * np.asarray(d)), atol=4 / math.sqrt(dim))


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="coding_level"):
        random_sparse_binary(jax.random.key(0), 10, 0.0)
    with pytest.raises(ValueError, match="dimension"):
        similarity_matrix(jnp.ones((2, 8)), jnp.ones((3, 9)))
    with pytest.raises(ValueError, match="axes"):
        fpe_encode(jnp.ones((8, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match="bandwidth"):
        random_fpe_phases(jax.random.key(0), 8, 1, bandwidth=0.0)
    sparse = random_sparse_binary(jax.random.key(0), (100, 1000), 0.1)
    assert abs(float(sparse.mean()) - 0.1) < 0.005
