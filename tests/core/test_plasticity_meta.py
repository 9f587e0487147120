"""Meta-learning: the meta-gradient through the unrolled plastic network against finite
differences (float64), differentiability through the emulated chip, episode sampling,
transfer learning and a short meta-training run on synthetic classes."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from snnviz.core.plasticity import (
    FeatureSet,
    LoihiConfig,
    MetaConfig,
    MetaParams,
    episode_accuracy,
    meta_loss,
    meta_train,
    run_episode,
    sample_episodes,
    transfer_episode_accuracy,
)


def _synthetic(n_classes=12, per_class=10, n_steps=10, n_features=20, seed=0, dtype=np.float32):
    """Classes as Bernoulli spike prototypes (plus an always-on bias input)."""
    rng = np.random.default_rng(seed)
    protos = rng.uniform(0.0, 0.6, (n_classes, n_features))
    labels = np.repeat(np.arange(n_classes), per_class)
    spikes = (rng.random((labels.size, n_steps, n_features)) < protos[labels][:, None]).astype(
        dtype
    )
    spikes = np.concatenate([spikes, np.ones((labels.size, n_steps, 1), dtype)], -1)
    return FeatureSet(jnp.asarray(spikes), labels.astype(np.int32))


def test_meta_gradient_matches_finite_differences_on_a_tiny_episode():
    with jax.enable_x64(True):
        data = _synthetic(n_classes=4, per_class=4, n_steps=8, n_features=5, dtype=np.float64)
        ep = sample_episodes(data.labels, n_way=3, n_shot=1, n_query=2, n_episodes=1, seed=3)
        rng = np.random.default_rng(1)
        params = MetaParams.from_values(6, eta=1000.0, weight_decay=1e-4, init_scale=0.05)
        params = eqx.tree_at(
            lambda p: (p.log_input_gain, p.pre_offset, p.init_mean), params,
            (jnp.asarray(rng.normal(-1.0, 0.3, 6)), jnp.asarray(rng.normal(0.2, 0.1, 6)),
             jnp.asarray(rng.normal(0.0, 0.01, 6))),
        )  # fmt: skip
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)

        def loss(p: MetaParams) -> jax.Array:
            # threshold far above the drive: no spike and no gate flips under a small
            # perturbation, so the loss is smooth and finite differences are meaningful
            readout = eqx.tree_at(
                lambda r: r.threshold, p.readout(weight_max=100.0), jnp.float64(300.0)
            )  # no clipping, no spikes
            _, _, drive = run_episode(readout, data.features, ep.support[0],
                                      ep.support_labels[0], None, ep.query[0], 3,
                                      jax.random.key(0), differentiable=True)  # fmt: skip
            logits = p.beta * drive / data.features.shape[1]
            return optax.softmax_cross_entropy_with_integer_labels(
                logits, ep.query_labels[0]
            ).mean()

        grads = jax.grad(loss)(params)
        leaves, treedef = jax.tree.flatten(params)
        grad_leaves = jax.tree.leaves(grads)
        # The error gate and the spikes are steps whose *surrogate* gradients reach the error
        # threshold and the target rate (through the gate) and the membrane time constant
        # (through the spikes: the membrane acts on the loss mainly via spikes) — by design,
        # that is how they are meta-learned. Finite differences of the true steps are zero
        # there, so those three are not compared; every other path is exact.
        skip = {"log_error_threshold", "logit_target_rate", "log_tau_mem"}
        names = list(params.__dataclass_fields__)  # one leaf per field, in order
        checked = 0
        for i, (leaf, g) in enumerate(zip(leaves, grad_leaves, strict=True)):
            if names[i] in skip:
                continue
            for j in range(min(int(np.size(leaf)), 2)):

                def shifted(delta, i=i, j=j, leaf=leaf):
                    new = list(leaves)
                    new[i] = leaf.ravel().at[j].add(delta).reshape(leaf.shape)
                    return loss(jax.tree.unflatten(treedef, new))

                eps = 1e-5
                fd = (float(shifted(eps)) - float(shifted(-eps))) / (2 * eps)
                analytic = float(np.ravel(g)[j])
                assert analytic == pytest.approx(fd, rel=1e-3, abs=1e-11), (
                    names[i],
                    j,
                    analytic,
                    fd,
                )
                checked += abs(fd) > 1e-8
        assert checked >= 8  # most hyperparameters really move the loss


def test_meta_gradient_flows_through_the_emulated_chip():
    data = _synthetic()
    eps = sample_episodes(data.labels, n_way=5, n_shot=1, n_query=2, n_episodes=4, seed=0)
    params = MetaParams.from_values(data.features.shape[-1], eta=2.0**-4, target_rate=0.9)
    chip = LoihiConfig(weight_bits=8, weight_max=0.5)
    (loss, acc), grads = jax.value_and_grad(meta_loss, has_aux=True)(
        params, data.features, eps, jax.random.key(0), n_way=5, chip=chip
    )
    flat = np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads)])
    assert np.isfinite(float(loss)) and 0.0 <= float(acc) <= 1.0
    assert np.all(np.isfinite(flat)) and np.abs(flat).max() > 0


def test_episodes_have_distinct_classes_and_disjoint_support_and_queries():
    labels = np.repeat(np.arange(9), 8)
    eps = sample_episodes(labels, n_way=4, n_shot=2, n_query=3, n_episodes=20, seed=5, max_shot=4)
    assert eps.support.shape == (20, 16) and eps.query.shape == (20, 12)
    assert np.all(np.asarray(eps.n_support) == 8)
    for e in range(20):
        sup, qry = np.asarray(eps.support[e]), np.asarray(eps.query[e])
        assert not set(sup) & set(qry) and len(set(sup)) == sup.size
        # every label of an episode maps to one true class, the same in support and queries
        mapping = {}
        for idx, lab in zip(np.concatenate([sup, qry]),
                            np.concatenate([eps.support_labels[e], eps.query_labels[e]]), strict=True):  # fmt: skip
            mapping.setdefault(int(lab), set()).add(int(labels[idx]))
        assert all(len(v) == 1 for v in mapping.values()) and len(mapping) == 4
        # the first n_shot rounds show every class once per round
        first = np.asarray(eps.support_labels[e][:8]).reshape(2, 4)
        assert all(sorted(r) == [0, 1, 2, 3] for r in first)
    again = sample_episodes(labels, n_way=4, n_shot=2, n_query=3, n_episodes=20, seed=5, max_shot=4)
    assert np.array_equal(eps.support, again.support)
    with pytest.raises(ValueError, match="n_way must be in"):
        sample_episodes(labels, n_way=10, n_shot=1, n_query=1, n_episodes=1, seed=0)
    with pytest.raises(ValueError, match="max_shot \\+ n_query <= 8"):
        sample_episodes(labels, n_way=3, n_shot=5, n_query=5, n_episodes=1, seed=0)


def test_evaluation_with_a_traced_shot_count_matches_a_dedicated_run():
    data = _synthetic()
    readout = MetaParams.from_values(data.features.shape[-1], eta=2.0**-4).readout()
    padded = sample_episodes(data.labels, n_way=5, n_shot=2, n_query=3, n_episodes=6, seed=2,
                             max_shot=4)  # fmt: skip
    acc_padded = episode_accuracy(readout, data, padded)
    trimmed = padded._replace(support=padded.support[:, :10],
                              support_labels=padded.support_labels[:, :10])  # fmt: skip
    np.testing.assert_allclose(acc_padded, episode_accuracy(readout, data, trimmed))


def test_batch_transfer_learning_separates_easy_classes():
    data = _synthetic(seed=4)
    eps = sample_episodes(data.labels, n_way=5, n_shot=3, n_query=4, n_episodes=20, seed=0)
    batch = transfer_episode_accuracy(data, eps, 1.0, online=False)
    online = transfer_episode_accuracy(data, eps, 1.0, online=True)
    assert batch.mean() > 0.8
    assert np.all((online >= 0) & (online <= 1))


@pytest.mark.slow  # ~20-40 s: compiles and runs a short meta-training
def test_short_meta_training_lowers_the_query_loss():
    data = _synthetic(n_classes=16)
    config = MetaConfig(steps=60, steps_per_call=20, n_query=3, max_shot=2,
                        validation_episodes=16, learning_rate=0.03)  # fmt: skip
    init = MetaParams.from_values(data.features.shape[-1], eta=2.0**-6, target_rate=0.9,
                                  depress_gain=1e-3)  # fmt: skip
    result = meta_train(data, config, init=init)
    loss = np.asarray(result.history["loss"])
    assert loss[-10:].mean() < loss[:10].mean()
    assert len(result.history["validation"]) == 3
    assert max(result.history["validation"]) >= result.history["validation"][0]
