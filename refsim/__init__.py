"""refsim: a reference implementation of the conductance-based E/I balanced network (COBA).

Public API
----------
get_preset, preset_names, Config, ConfigError   configurations (refsim.params, refsim.presets)
simulate, SimulationResult                       running (refsim.simulate, refsim.result)
Connectivity, build_connectivity, from_index_arrays, from_sparse, load_connectivity
load_initial_state
"""

__version__ = "0.1.0"

from .connectivity import (Connectivity, build_connectivity, from_index_arrays, from_sparse,
                           load_connectivity)
from .params import Config, ConfigError
from .presets import get_preset, preset_names
from .result import SimulationResult
from .simulate import simulate
from .state import load_initial_state

__all__ = [
    "Config", "ConfigError", "Connectivity", "SimulationResult", "build_connectivity",
    "from_index_arrays", "from_sparse", "get_preset", "load_connectivity", "load_initial_state",
    "preset_names", "simulate", "__version__",
]
