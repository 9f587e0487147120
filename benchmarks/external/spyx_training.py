"""Training-step throughput of the benchmark network written with spyx (flax.nnx), for the record.

Runs in a **separate** environment that has spyx (never the project's: spyx pins its own flax and
jax versions, and the app must not depend on it)::

    python3.11 -m venv /tmp/spyxvenv && /tmp/spyxvenv/bin/pip install spyx optax
    python -m benchmarks.training_throughput --external-python /tmp/spyxvenv/bin/python

``training_throughput`` then calls this script (``python spyx_training.py WORKLOAD BATCH REPEATS``)
after timing its own methods, and reads one JSON line from stdout. The script imports nothing from
snnviz: it gets the minibatch shape from its arguments and uses random latency-coded spikes of
the same shape (the step's cost does not depend on the values).

The network is the closest spyx offers to the benchmark's: ``nnx.Linear`` (no bias) ->
``spyx.nn.CuBaLIF`` (current-based LIF: synaptic current and membrane decays 0.82 / 0.90,
SuperSpike slope 10, subtractive reset) -> ``nnx.Linear`` -> ``spyx.nn.LI`` readout, run with
``spyx.nn.run`` (a ``lax.scan``); loss cross-entropy on the readout's maximum over time; Adam.
Differences to the project's network (spyx's readout has no synaptic current; no (1 - alpha)
input scaling; reset before integration) change the arithmetic by a few element-wise operations
per step, not its structure. The step is ``jax.jit`` of the functional ``nnx.split``/``merge``
form, the fastest way to call an nnx model.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version

import jax
import jax.numpy as jnp
import numpy as np
import optax
import spyx
from flax import nnx

WORKLOADS = {
    "yinyang": {"n_in": 5, "n_steps": 60, "n_hidden": 150, "n_out": 3},
    "digits": {"n_in": 64, "n_steps": 25, "n_hidden": 120, "n_out": 10},
}


def build(spec: dict, seed: int = 0) -> nnx.Module:
    rngs = nnx.Rngs(seed)
    return spyx.nn.Sequential(
        nnx.Linear(spec["n_in"], spec["n_hidden"], use_bias=False, rngs=rngs),
        spyx.nn.CuBaLIF(
            (spec["n_hidden"],),
            alpha=float(np.exp(-1 / 5)),
            beta=float(np.exp(-1 / 10)),
            activation=spyx.axn.superspike(10.0),
            rngs=rngs,
        ),
        nnx.Linear(spec["n_hidden"], spec["n_out"], use_bias=False, rngs=rngs),
        spyx.nn.LI((spec["n_out"],), beta=float(np.exp(-1 / 10)), rngs=rngs),
    )


def main(workload: str, batch: int, repeats: int) -> dict:
    spec = WORKLOADS[workload]
    model = build(spec)
    graphdef, params = nnx.split(model)
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)
    rng = np.random.default_rng(0)
    latency = rng.integers(0, spec["n_steps"], (batch, spec["n_in"]))
    x = jnp.asarray(
        (np.arange(spec["n_steps"])[None, :, None] == latency[:, None, :]).astype(np.float32)
    )
    y = jnp.asarray(rng.integers(0, spec["n_out"], batch))

    def loss_fn(params, x, y):
        out, _ = spyx.nn.run(nnx.merge(graphdef, params), x, batch_major=True)
        logits = jnp.max(out, axis=1)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    start = time.perf_counter()
    jax.block_until_ready(step(params, opt_state, x, y))
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(step(params, opt_state, x, y))
        times.append(time.perf_counter() - start)
    return {
        "library": f"spyx {version('spyx')}, flax {version('flax')}",
        "jax": jax.__version__,
        "first_call_s": first,
        "median_s": float(np.median(times)),
        "min_s": float(np.min(times)),
        "samples_per_s": batch / float(np.median(times)),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
