"""FSMs in attractor networks: fixed points, every transition, a numpy reference, robustness."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnviz.core.vsa.fsm import (
    FSM,
    NO_INPUT,
    FSMNetwork,
    builtin_fsm,
    capacity_sweep,
    evaluate_fsm,
    fsm_weights,
    make_codes,
    parity_fsm,
    presentation_schedule,
    random_fsm,
    reference_run_numpy,
    simulate,
    stimulus_id,
    stimulus_masks,
    table_codes,
    traffic_light_fsm,
    transition_accuracy,
)
from snnviz.core.vsa.nonideal import WeightNonideality
from tests.helpers import count_compilations

N = 1024


def _embed(fsm: FSM, n: int = N, seed: int = 0):
    codes = make_codes(fsm, n, key=jax.random.PRNGKey(seed))
    return codes, FSMNetwork(fsm_weights(codes), stimulus_masks(codes))


@pytest.fixture(scope="module")
def traffic():
    fsm = traffic_light_fsm()
    codes, net = _embed(fsm)
    return fsm, codes, net


# -- the FSM description ------------------------------------------------------------------------
def test_fsm_runs_its_table_and_stores_no_self_loops():
    fsm = traffic_light_fsm()
    assert fsm.run(0, ["timer", "timer", "timer", "timer"]).tolist() == [2, 4, 6, 0]
    assert fsm.run(0, ["button", "timer", "timer", "timer"]).tolist() == [1, 3, 5, 6]
    edges = fsm.transitions()
    assert np.all(edges[:, 0] != edges[:, 2])
    n_self = sum(fsm.table[s][a] == s for s in range(fsm.n_states) for a in range(fsm.n_inputs))
    assert len(edges) == fsm.n_states * fsm.n_inputs - n_self
    assert parity_fsm().run(0, [1, 1, 0, 1]).tolist() == [1, 0, 0, 1]


def test_random_fsm_reaches_every_state_through_input_zero():
    fsm = random_fsm(57, 3, seed=4)
    seen, state = set(), 0
    for _ in range(fsm.n_states):
        state = fsm.next_state(state, 0)
        seen.add(state)
    assert len(seen) == fsm.n_states
    assert fsm.table == random_fsm(57, 3, seed=4).table  # seeded


def test_bad_fsm_descriptions_raise_clear_errors():
    with pytest.raises(ValueError, match="table must be 2 x 2"):
        FSM("x", ("a", "b"), ("0", "1"), ((0, 1),))
    with pytest.raises(ValueError, match="next states must be in"):
        FSM("x", ("a", "b"), ("0",), ((0,), (2,)))
    with pytest.raises(ValueError, match="states must be unique"):
        FSM("x", ("a", "a"), ("0",), ((0,), (1,)))
    with pytest.raises(ValueError, match="unknown input 'walk'"):
        traffic_light_fsm().input_index("walk")
    with pytest.raises(ValueError, match="unknown FSM"):
        builtin_fsm("vending machine")


def test_schedule_shows_a_then_b_then_nothing():
    ids = presentation_schedule([1, 0], steps_a=2, steps_b=1, steps_rest=2)
    a1, b1, a0, b0 = (
        stimulus_id(1, "a"),
        stimulus_id(1, "b"),
        stimulus_id(0, "a"),
        stimulus_id(0, "b"),
    )
    assert ids.tolist() == [a1, a1, b1, NO_INPUT, NO_INPUT, a0, a0, b0, NO_INPUT, NO_INPUT]


# -- the weights --------------------------------------------------------------------------------
def test_weights_match_an_explicit_sum_of_outer_products():
    fsm = traffic_light_fsm()
    codes = make_codes(fsm, 64, key=jax.random.PRNGKey(1))
    x, e = np.asarray(codes.states, np.float64), np.asarray(codes.edge_states, np.float64)
    sa, sb = np.asarray(codes.stim_a, np.float64), np.asarray(codes.stim_b, np.float64)
    w = sum(np.outer(v, v) for v in x)
    for k, (src, a, dst) in enumerate(fsm.transitions()):
        w = w + np.outer(e[k], e[k])
        w = w + np.outer((sa[a] > 0) * (e[k] - x[src]), x[src] * sa[a])
        w = w + np.outer((sb[a] > 0) * (x[dst] - e[k]), e[k] * sb[a])
    w = w / 64
    np.fill_diagonal(w, 0.0)
    np.testing.assert_allclose(np.asarray(fsm_weights(codes)), w, atol=1e-5)


def test_padded_table_codes_give_the_same_weights_as_the_unpadded_ones():
    fsm = parity_fsm()
    table = np.array([[0, 1], [1, 0], [2, 2], [3, 3]], np.int32)  # two padding states
    codes = table_codes(jnp.asarray(table), jnp.asarray(2), 128, key=jax.random.PRNGKey(2))
    explicit = codes.__class__(
        states=codes.states[:2],
        edge_states=codes.edge_states[np.array([1, 3])],  # pairs (even, 1) and (odd, 1)
        stim_a=codes.stim_a,
        stim_b=codes.stim_b,
        transitions=jnp.asarray(fsm.transitions()),
        state_valid=jnp.ones(2),
        edge_valid=jnp.ones(2),
    )
    np.testing.assert_allclose(
        np.asarray(fsm_weights(codes)), np.asarray(fsm_weights(explicit)), atol=1e-6
    )


# -- dynamics -----------------------------------------------------------------------------------
def test_every_node_and_edge_state_is_a_fixed_point_without_input(traffic):
    _, codes, net = traffic
    attractors = jnp.concatenate([codes.states, codes.edge_states])
    stim = jnp.full(attractors.shape[0], NO_INPUT)
    after = net(attractors, stim, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(after), np.asarray(attractors))


def test_every_state_input_pair_moves_to_the_fsm_successor(traffic):
    fsm, codes, net = traffic
    pairs = [(s, a) for s in range(fsm.n_states) for a in range(fsm.n_inputs)]
    z0 = codes.states[np.array([s for s, _ in pairs])]
    steps = dict(steps_a=3, steps_b=3, steps_rest=4)
    stim = np.stack([presentation_schedule([a], **steps) for _, a in pairs], axis=1)  # (T, B)
    readout = jnp.concatenate([codes.states, codes.edge_states])
    _, rec = simulate(net, z0, jnp.asarray(stim), key=jax.random.PRNGKey(1), readout=readout)
    sims = np.asarray(rec["similarity"])  # (T, B, S + E)
    edge_of = {(s, a): k for k, (s, a, _) in enumerate(fsm.transitions())}
    for b, (s, a) in enumerate(pairs):
        target = fsm.next_state(s, a)
        mid = sims[2, b]  # end of the s_a phase: the edge state (or still s for a self-loop)
        expect_mid = fsm.n_states + edge_of[(s, a)] if target != s else s
        assert mid.argmax() == expect_mid and mid.max() > 0.95, (s, a)
        end = sims[-1, b, : fsm.n_states]
        assert end.argmax() == target and end.max() > 0.95, (s, a)


def test_a_held_input_makes_exactly_one_transition():
    fsm = parity_fsm()  # "1" flips even <-> odd, so a skipping network would come back
    codes, net = _embed(fsm)
    stim = presentation_schedule([1], steps_a=15, steps_b=15, steps_rest=5)
    _, rec = simulate(
        net, codes.states[0], jnp.asarray(stim), key=jax.random.PRNGKey(0), readout=codes.states
    )
    sims = np.asarray(rec["similarity"])
    assert np.all(sims[20:, 1] > 0.95)  # odd, and staying odd while s_b is held


def test_jax_run_matches_an_independent_numpy_spiking_reference():
    fsm = random_fsm(6, 2, seed=1)
    codes, net = _embed(fsm, 512, seed=3)
    stim = presentation_schedule([0, 1, 1, 0, 1], steps_a=2, steps_b=2, steps_rest=2)
    z0 = codes.states[2]
    _, rec = simulate(
        net, z0, jnp.asarray(stim), key=jax.random.PRNGKey(0), readout=codes.states, n_record=512
    )
    ref = reference_run_numpy(np.asarray(net.weights), np.asarray(net.masks), np.asarray(z0), stim)
    jax_spikes = np.asarray(rec["spikes"])
    # float32 vs float64 sums may differ in sign only where the drive is ~0
    assert (jax_spikes == ref).mean() > 0.999
    ref_sims = (2.0 * ref - 1.0) @ np.asarray(codes.states).T / 512
    np.testing.assert_array_equal(ref_sims.argmax(1), np.asarray(rec["similarity"]).argmax(1))
    assert fsm.run(2, [0, 1, 1, 0, 1])[-1] == ref_sims[-1].argmax()


def test_asynchronous_updates_still_make_the_right_transitions():
    fsm = traffic_light_fsm()
    codes = make_codes(fsm, N, key=jax.random.PRNGKey(4))
    net = FSMNetwork(fsm_weights(codes), stimulus_masks(codes), update_prob=0.2)
    symbols = ["timer", "button", "timer", "timer", "timer"]
    stim = presentation_schedule(
        [fsm.input_index(s) for s in symbols], steps_a=25, steps_b=25, steps_rest=10
    )
    _, rec = simulate(
        net, codes.states[0], jnp.asarray(stim), key=jax.random.PRNGKey(5), readout=codes.states
    )
    ends = np.asarray(rec["similarity"])[np.arange(1, len(symbols) + 1) * 60 - 1]
    assert ends.argmax(1).tolist() == fsm.run(0, symbols).tolist()


def test_an_asynchronous_step_flips_the_update_probability_times_the_synchronous_flips():
    fsm = traffic_light_fsm()
    codes = make_codes(fsm, 4096, key=jax.random.PRNGKey(4))
    sync = FSMNetwork(fsm_weights(codes), stimulus_masks(codes))
    x, stim = codes.states[0], jnp.asarray(stimulus_id(0, "a"))  # green, timer: an edge
    flipped_sync = np.asarray(sync(x, stim, jax.random.PRNGKey(0)) != x)
    assert 0.2 < flipped_sync.mean() < 0.3  # the unmasked half moves to e: ~N/4 flips
    p = 0.3
    flipped = np.asarray(
        FSMNetwork(sync.weights, sync.masks, p)(x, stim, jax.random.PRNGKey(1)) != x
    )
    assert np.all(flipped <= flipped_sync)  # only neurons the synchronous step flips
    n = flipped_sync.sum()
    assert abs(flipped.sum() - p * n) < 4 * np.sqrt(n * p * (1 - p))


def test_update_prob_outside_0_1_is_refused(traffic):
    _, _, net = traffic
    with pytest.raises(ValueError, match="update_prob must be in"):
        FSMNetwork(net.weights, net.masks, update_prob=0.0)


# -- accuracy and robustness -----------------------------------------------------------------
def test_ideal_accuracy_is_perfect_and_padding_does_not_change_it(traffic):
    fsm, codes, net = traffic
    table = jnp.asarray(fsm.table_array)
    kwargs = dict(key=jax.random.PRNGKey(6), n_walks=6, n_presentations=10)
    plain = transition_accuracy(net, codes.states, table, **kwargs)
    assert float(plain["accuracy"]) == 1.0 and float(plain["overlap"].min()) > 0.95
    states = jnp.concatenate([codes.states, jnp.zeros((3, N))])
    padded_table = jnp.concatenate([table, jnp.asarray([[7, 7], [8, 8], [9, 9]])])
    padded = transition_accuracy(net, states, padded_table, n_valid=jnp.asarray(7), **kwargs)
    np.testing.assert_array_equal(np.asarray(padded["decoded"]), np.asarray(plain["decoded"]))
    walks = zip(np.asarray(plain["start"]), np.asarray(plain["symbols"]), strict=True)
    expected = np.stack([fsm.run(int(start), symbols) for start, symbols in walks])
    np.testing.assert_array_equal(np.asarray(plain["expected"]), expected)


# the evaluations below share one compiled run: same FSM size, N, walks and presentations
EVAL = {"n_walks": 8, "n_presentations": 10}
N_EVAL = 768


def test_accuracy_degrades_monotonically_with_weight_noise():
    fsm = traffic_light_fsm()
    mean_acc = []
    for sigma in (0.0, 1.0, 2.0, 4.0):
        accs = [
            float(
                evaluate_fsm(
                    fsm,
                    N_EVAL,
                    key=jax.random.PRNGKey(seed),
                    nonideality=WeightNonideality(noise=sigma),
                    **EVAL,
                )["accuracy"]
            )
            for seed in (0, 1)
        ]
        mean_acc.append(np.mean(accs))
    assert mean_acc[0] == 1.0
    assert all(b <= a + 0.02 for a, b in itertools.pairwise(mean_acc)), mean_acc
    assert mean_acc[-1] < 0.5, mean_acc


def test_one_compiled_evaluation_serves_every_nonideality_strength():
    fsm = traffic_light_fsm()
    evaluate_fsm(fsm, N_EVAL, key=jax.random.PRNGKey(0), nonideality=WeightNonideality(), **EVAL)
    with count_compilations() as log:
        for bits, keep, noise in ((4, 0.5, 0.0), (2, 1.0, 1.0), (1, 0.3, 0.5)):
            ni = WeightNonideality(bits=bits, keep=keep, noise=noise)
            evaluate_fsm(fsm, N_EVAL, key=jax.random.PRNGKey(bits), nonideality=ni, **EVAL)
    assert log.matching("_experiment") == 0, log.names


def test_low_precision_sparse_weights_still_run_a_small_fsm():
    acc = evaluate_fsm(
        traffic_light_fsm(),
        N_EVAL,
        key=jax.random.PRNGKey(3),
        nonideality=WeightNonideality(bits=2, keep=0.5),
        **EVAL,
    )
    assert float(acc["accuracy"]) == 1.0


@pytest.mark.slow
def test_capacity_grows_with_the_number_of_neurons():
    small = capacity_sweep(256, range(2, 12), key=jax.random.PRNGKey(0), n_walks=4)
    large = capacity_sweep(768, range(4, 30, 2), key=jax.random.PRNGKey(0), n_walks=4)
    for sweep in (small, large):  # the capacity passed, the next candidate tried failed
        passed = dict(zip(sweep["n_states"], sweep["accuracy"], strict=True))
        assert passed[sweep["capacity"]] >= 0.99
        assert all(acc < 0.99 for n, acc in passed.items() if n > sweep["capacity"])
    assert large["capacity"] >= 2 * small["capacity"] > 0, (small, large)
