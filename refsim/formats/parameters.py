"""A Config as a machine-readable JSON file, every value with its unit.

::

    {"format": "refsim-parameters/1", "refsim_version": "0.4.0", "preset": "brette2007-coba",
     "parameters": {"tau_m": {"value": 20.0, "unit": "ms", "doc": "membrane time constant"}, ...}}

Units are refsim's (``refsim presets --describe``): ms, mV, ``[g]`` (the preset's conductance
unit; ``R_g`` = R [g] is dimensionless), ``1`` (a number) and ``-`` (a choice or a flag).
:func:`read_parameters` refuses a value whose stated unit is not the field's, so a file
edited to ``"unit": "s"`` is an error, not a run 1000 times too long.
"""

from __future__ import annotations

import json
import os

from .._version import __version__
from ..io import atomic_write, open_regular
from ..params import Config, ConfigError, describe_fields

__all__ = ["write_parameters", "read_parameters", "PARAMETERS_FORMAT", "parameters_dict"]

#: The ``format`` field of a parameters file.
PARAMETERS_FORMAT = "refsim-parameters/1"


def parameters_dict(config: Config, **meta) -> dict:
    """The JSON object of :func:`write_parameters` (``meta``: e.g. preset, seed)."""
    values = config.to_dict()
    return {"format": PARAMETERS_FORMAT, "refsim_version": __version__, **meta,
            "parameters": {name: {"value": values[name], "unit": unit, "doc": doc}
                           for name, unit, doc in describe_fields()}}


def write_parameters(path, config: Config, **meta) -> None:
    """Write ``config`` as JSON with units (atomically).

    Parameters
    ----------
    path : str or os.PathLike
    config : Config
    **meta
        JSON-able provenance stored beside the parameters (preset, seed, ...).

    Examples
    --------
    >>> import os, tempfile, refsim
    >>> from refsim.formats import read_parameters, write_parameters
    >>> path = os.path.join(tempfile.mkdtemp(), "parameters.json")
    >>> write_parameters(path, refsim.get_preset("brette2007-coba"), preset="brette2007-coba")
    >>> read_parameters(path) == refsim.get_preset("brette2007-coba")
    True
    """
    text = json.dumps(parameters_dict(config, **meta), indent=1) + "\n"
    atomic_write(path, lambda tmp: open(tmp, "w").write(text))


def read_parameters(path) -> Config:
    """The Config of a file :func:`write_parameters` wrote (or a user edited).

    Raises
    ------
    ConfigError
        Not JSON, another format, a parameter without ``value`` or with another unit than
        refsim's, missing or unknown parameters, or values out of range (:class:`Config`).
    """
    label = f"parameters file {os.fspath(path)!r}"
    try:
        with open_regular(path, label) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{label}: cannot be read as JSON ({e})") from None
    if not isinstance(d, dict) or d.get("format") != PARAMETERS_FORMAT or \
            not isinstance(d.get("parameters"), dict):
        raise ConfigError(f"{label}: allowed a JSON object with format {PARAMETERS_FORMAT!r} and "
                          "'parameters'")
    units = {name: unit for name, unit, _ in describe_fields()}
    values = {}
    for name, entry in d["parameters"].items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise ConfigError(f"{label}: {name}: allowed {{'value': ..., 'unit': ...}}")
        if name in units and entry.get("unit") != units[name]:
            raise ConfigError(f"{label}: {name} unit = {entry.get('unit')!r}: allowed "
                              f"{units[name]!r} (refsim's unit; convert the value)")
        values[name] = entry["value"]
    return Config.from_dict(values)
