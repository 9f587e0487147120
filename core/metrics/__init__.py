"""NeuroBench-style metrics (footprint, sparsity, synaptic operations, accuracy) for any
trained model, with the definitions of the ``neurobench`` package (see :mod:`.neurobench`)."""

from .neurobench import neurobench_metrics as neurobench_metrics
from .static import array_leaves as array_leaves
from .static import connection_sparsity as connection_sparsity
from .static import footprint as footprint
from .static import parameter_count as parameter_count
from .workload import LayerActivity as LayerActivity
from .workload import SynapticOperations as SynapticOperations
from .workload import activation_sparsity as activation_sparsity
from .workload import classification_accuracy as classification_accuracy
from .workload import layer_activation_sparsity as layer_activation_sparsity
from .workload import layer_synaptic_operations as layer_synaptic_operations
from .workload import spike_counts as spike_counts
from .workload import synaptic_operations as synaptic_operations
