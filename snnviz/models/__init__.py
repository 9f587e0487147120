"""Parameter models: ``param.Parameterized`` mirrors of the engine's objects.

Every quantity is a bounded, documented parameter with its unit in the label, so a page's
widgets come straight from the model (``pn.Param(model)``). ``build()`` makes the core object,
``structure_key()`` tells a page when a rebuild may recompile, and presets round-trip through
``to_preset()`` / ``from_preset()``. This package never imports panel.
"""

from ._base import ParamModel as ParamModel
from ._base import model_class as model_class
from .current import CurrentProtocol as CurrentProtocol
from .network import BrunelModel as BrunelModel
from .neurons import AdExModel as AdExModel
from .neurons import AdLIFModel as AdLIFModel
from .neurons import LIFModel as LIFModel
from .neurons import NeuronModel as NeuronModel
from .presets import check_preset as check_preset
from .presets import list_presets as list_presets
from .presets import load_preset as load_preset
from .presets import presets_dir as presets_dir
