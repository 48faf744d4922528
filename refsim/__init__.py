"""refsim: a reference implementation of the conductance-based E/I balanced network (COBA).

Public API
----------
get_preset, preset_names, Config, ConfigError   configurations (refsim.params, refsim.presets)
ConfigWarning                                    allowed but suspicious parameters
FloatingPointModeError                           the process does not compute IEEE 754's default
elementary                                       refsim's own expm1/exprel (refsim.elementary)
simulate, SimulationResult, network_inputs       running (refsim.simulate, refsim.result)
simulate_exact                                   event-driven high-accuracy solver (refsim.exact)
estimate_memory, available_memory                memory before a run (refsim.resources)
Connectivity, build_connectivity, from_index_arrays, from_sparse, load_connectivity
load_initial_state
analysis, compare, ensemble, plot                statistics, comparisons, ensembles, figures (modules)
"""

__version__ = "0.2.0"

from . import analysis, compare, elementary, ensemble, plot
from .connectivity import (Connectivity, build_connectivity, from_index_arrays, from_sparse,
                           load_connectivity)
from .elementary import FloatingPointModeError
from .params import Config, ConfigError, ConfigWarning
from .presets import get_preset, preset_names
from .resources import available_memory, estimate_memory
from .result import SimulationResult
from .simulate import network_inputs, simulate
from .state import load_initial_state

__all__ = [
    "Config", "ConfigError", "ConfigWarning", "Connectivity", "FloatingPointModeError",
    "SimulationResult",
    "available_memory", "build_connectivity", "estimate_memory", "from_index_arrays",
    "from_sparse", "get_preset", "load_connectivity", "load_initial_state", "preset_names",
    "network_inputs", "simulate", "simulate_exact", "__version__",
]


def __getattr__(name):
    # simulate_exact needs scipy.integrate (a third of a second to import): loaded on first use
    if name == "simulate_exact":
        from .exact import simulate_exact
        return simulate_exact
    raise AttributeError(f"module 'refsim' has no attribute {name!r}")
