r"""Anatomical wiring of the central-complex path-integration circuit (Stone et al. 2017).

Populations (sizes): TL2 (16) and CL1 (16) compass neurons, TB1 (8) ring, TN1/TN2 (2 each)
speed neurons, CPU4 (16) memory, CPU1 (16) steering. Column ``k`` of the protocerebral bridge
prefers the heading :math:`\phi_k = 2\pi k / 8` (both hemispheres tile the 8 directions).
CPU4 neurons ``0..7`` take the left speed neuron (optic flow preferring ``heading + 45°``),
``8..15`` the right one; CPU4 ``i`` is driven by the inverted TB1 of column ``i mod 8``.

CPU1 steering columns ``j = 0..15`` (``0..7`` and ``8..15`` drive opposite turns)
combine inverted TB1 of column ``j mod 8`` with the memory of the *opposite* hemisphere,
shifted by one column: column ``j < 8`` reads CPU4 ``8 + (j - 1) mod 8`` and column ``j >= 8``
reads CPU4 ``(j - 7) mod 8``. The one-column offset (45°) is what turns the memory bump into
a steering command toward home. Motor output is
:math:`0.25\,(\sum_{j<8} \mathrm{CPU1}_j - \sum_{j\ge 8} \mathrm{CPU1}_j)`; the agent adds it to
its heading (clockwise from +y), so a positive output turns it clockwise.

Every matrix here is built from those rules (rows = postsynaptic, columns = presynaptic).
"""

from __future__ import annotations

import numpy as np

N_COLUMNS = 8
N_TL2 = 16
N_CL1 = 16
N_TB1 = 8
N_TN = 2
N_CPU4 = 16
N_CPU1 = 16

PREFERRED_HEADINGS = np.tile(np.arange(N_COLUMNS) * 2.0 * np.pi / N_COLUMNS, 2)
TN_PREFERENCE = np.pi / 4.0  # optic-flow preference of the speed neurons, rad


def tb1_ring_inhibition() -> np.ndarray:
    r"""TB1 -> TB1 (8, 8): inhibition :math:`(1 - \cos(\phi_i - \phi_j)) / 2`, strongest
    between opposite columns and zero onto itself."""
    phi = np.arange(N_COLUMNS) * 2.0 * np.pi / N_COLUMNS
    return (1.0 - np.cos(phi[:, None] - phi[None, :])) / 2.0


def cl1_to_tb1() -> np.ndarray:
    """CL1 -> TB1 (8, 16): both hemispheres' CL1 of column ``k`` excite TB1 ``k``."""
    return np.tile(np.eye(N_COLUMNS), 2)


def tb1_to_cpu4() -> np.ndarray:
    """TB1 -> CPU4 (16, 8): CPU4 ``i`` reads TB1 column ``i mod 8``."""
    return np.tile(np.eye(N_COLUMNS), (2, 1))


def tn_to_cpu4() -> np.ndarray:
    """TN -> CPU4 (16, 2): left speed neuron to CPU4 0..7, right to 8..15."""
    w = np.zeros((N_CPU4, N_TN))
    w[:8, 0] = 1.0
    w[8:, 1] = 1.0
    return w


def tb1_to_cpu1() -> np.ndarray:
    """TB1 -> CPU1 (16, 8): CPU1 column ``j`` reads TB1 column ``j mod 8``."""
    return np.tile(np.eye(N_COLUMNS), (2, 1))


def cpu4_to_cpu1() -> np.ndarray:
    """CPU4 -> CPU1 (16, 16): contralateral memory shifted by one column (see module doc)."""
    w = np.zeros((N_CPU1, N_CPU4))
    for j in range(8):
        w[j, 8 + (j - 1) % 8] = 1.0
    for j in range(8, 16):
        w[j, (j - 7) % 8] = 1.0
    return w


def cpu1_to_motor() -> np.ndarray:
    """CPU1 -> motor (16,): +0.25 for columns 0..7, -0.25 for columns 8..15."""
    return np.concatenate([np.full(8, 0.25), np.full(8, -0.25)])


def decode_memory(memory: np.ndarray | object, xp=np) -> tuple[object, object]:
    r"""Home-vector readout of a CPU4 memory (..., 16): ``(angle, amplitude)``.

    The left hemisphere is shifted by +1 column and the right by -1 (cancelling the ±45° flow
    preferences), the two are summed, and the first spatial harmonic
    :math:`F = \sum_k s_k e^{i\phi_k}` gives the direction of the *turnaround point as seen
    from the nest* (``angle``, rad, clockwise from +y; home is ``angle + pi``) and an
    amplitude :math:`|F|` proportional to the distance travelled. ``xp`` is ``numpy`` or
    ``jax.numpy``.
    """
    left = xp.roll(memory[..., :8], 1, axis=-1)
    right = xp.roll(memory[..., 8:], -1, axis=-1)
    summed = left + right
    phi = np.arange(N_COLUMNS) * 2.0 * np.pi / N_COLUMNS
    re = xp.sum(summed * np.cos(phi), axis=-1)
    im = xp.sum(summed * np.sin(phi), axis=-1)
    return xp.arctan2(im, re), xp.sqrt(re**2 + im**2)
