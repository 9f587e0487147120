"""Vector-symbolic architectures in JAX: the hypervector algebra (FHRR phasors, bipolar and sparse
binary codes, fractional power encoding) re-exported here, and in submodules: grid-cell codes and
path integration (:mod:`.gridcells`), spatio-temporal scene memory (:mod:`.scene_memory`),
Hinton's family trees (:mod:`.family_tree`), accuracy-vs-dimension sweeps (:mod:`.sweep`),
finite-state machines in attractor networks (:mod:`.fsm`) and weight non-idealities
(:mod:`.nonideal`)."""

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
from .gridcells import GridCode, make_grid_code

__all__ = [
    "GridCode",
    "bind",
    "bundle",
    "cleanup",
    "fpe_encode",
    "inverse",
    "make_grid_code",
    "permute",
    "random_bipolar",
    "random_fpe_phases",
    "random_phasors",
    "random_sparse_binary",
    "similarity",
    "similarity_matrix",
    "unbind",
]
