"""refsim: a reference implementation of the conductance-based E/I balanced network (COBA).

Public API
----------
get_preset, preset_names, Config, ConfigError   configurations (refsim.params, refsim.presets)
scaled_preset                                    a preset at N neurons, out-degree 80 kept
ConfigWarning                                    allowed but suspicious parameters
FloatingPointModeError                           the process does not compute IEEE 754's default
simulate, SimulationResult                       running (refsim.simulate, refsim.result)
network_inputs                                   the network a seed means (refsim.network)
simulate_exact                                   event-driven high-accuracy solver (refsim.exact)
estimate_memory, available_memory                memory before a run (refsim.resources)
Connectivity, build_connectivity, from_index_arrays, from_sparse, load_connectivity
load_initial_state                               files (refsim.io)
check_output_dir                                 output directories: one run, one unit (refsim.outputs)
analysis, compare, elementary, ensemble, formats, io, model, network, outputs, plot,
testing, validate                                modules (formats: other simulators' files)

Conventions
-----------
Units: time ms, voltage mV, rates Hz; conductances in the preset's unit [g] (R_g = R*[g] has none).
Names: a :class:`Config` is always ``config``; ``c`` is only a :class:`refsim.model.Constants`.
Rasters: ``(spike_steps, spike_neurons)`` in a :class:`SimulationResult` (time = step * dt ms),
``(times_ms, neurons)`` in :class:`refsim.analysis.SpikeTrains`, whatever simulator made them.
"""

from . import (
    analysis,
    compare,
    elementary,
    ensemble,
    formats,
    io,
    model,
    network,
    outputs,
    plot,
    testing,
    validate,
)
from ._version import __version__
from .connectivity import Connectivity, build_connectivity, from_index_arrays, from_sparse, load_connectivity
from .elementary import FloatingPointModeError
from .io import load_initial_state
from .network import network_inputs
from .outputs import check_output_dir
from .params import Config, ConfigError, ConfigWarning
from .presets import get_preset, preset_names, scaled_preset
from .resources import available_memory, estimate_memory
from .result import SimulationResult
from .simulate import simulate

__all__ = [
    "Config", "ConfigError", "ConfigWarning", "Connectivity", "FloatingPointModeError",
    "SimulationResult",
    "available_memory", "build_connectivity", "check_output_dir", "estimate_memory", "from_index_arrays",
    "from_sparse", "get_preset", "load_connectivity", "load_initial_state", "preset_names",
    "network_inputs", "scaled_preset", "simulate", "simulate_exact", "__version__",
    "analysis", "compare", "elementary", "ensemble", "formats", "io", "model", "network", "outputs", "plot",
    "testing", "validate",
]


def __getattr__(name):
    # simulate_exact needs scipy.integrate (half a second to import): loaded on first use
    if name == "simulate_exact":
        from .exact import simulate_exact
        return simulate_exact
    raise AttributeError(f"module 'refsim' has no attribute {name!r}")
