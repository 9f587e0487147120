"""Vector-symbolic architectures in JAX: the hypervector algebra (FHRR phasors, bipolar and sparse
binary codes, fractional power encoding), grid-cell codes, scene memory, family trees and
finite-state machines in attractor networks."""

from .algebra import (
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

__all__ = [
    "bind",
    "bundle",
    "cleanup",
    "fpe_encode",
    "inverse",
    "permute",
    "random_bipolar",
    "random_fpe_phases",
    "random_phasors",
    "random_sparse_binary",
    "similarity",
    "similarity_matrix",
    "unbind",
]
