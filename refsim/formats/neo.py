"""Neo ``SpikeTrain``s (optional: ``refsim[neo]``): how Elephant users hand spikes over.

Conventions (Neo 0.13+)
    * one ``SpikeTrain`` per neuron, in refsim's order (E first), silent neurons included;
    * times carry their unit (``quantities``); refsim converts to ms;
    * :func:`to_neo` annotates each train with ``neuron`` (its index) and ``population``
      (``'E'``/``'I'``); :func:`from_neo` uses them when present (else the list order), and
      takes the duration from the trains' ``t_stop``.

Producing the trains in any simulator::

    import neo, quantities as pq
    trains = [neo.SpikeTrain(times_ms[ids == k], t_stop=1000.0, units="ms") for k in range(4000)]
    block = neo.Block(); seg = neo.Segment(); seg.spiketrains = trains; block.segments.append(seg)
    spikes = refsim.formats.from_neo(block, n_exc=3200)
"""

from __future__ import annotations

import numpy as np

from ..analysis import SpikeTrains
from ..params import ConfigError
from .common import RawSpikes, finish, require

__all__ = ["to_neo", "from_neo"]


def to_neo(spikes):
    """A ``neo.Block`` of one ``Segment`` holding one annotated ``SpikeTrain`` per neuron.

    Parameters
    ----------
    spikes : SpikeTrains

    Returns
    -------
    neo.Block
    """
    neo = require("neo", "to_neo", extra="neo")
    order = np.lexsort((spikes.times_ms, spikes.neurons))
    bounds = np.searchsorted(spikes.neurons[order], np.arange(spikes.n_neurons + 1))
    t = spikes.times_ms[order]
    seg = neo.Segment(name="refsim")
    for k in range(spikes.n_neurons):
        train = neo.SpikeTrain(t[bounds[k]:bounds[k + 1]], t_start=0.0, t_stop=spikes.t_stop_ms,
                               units="ms")
        train.annotate(neuron=k, population="E" if k < spikes.n_exc else "I")
        seg.spiketrains.append(train)
    block = neo.Block(name="refsim")
    block.segments.append(seg)
    return block


def from_neo(obj, n_exc: int | None = None, t_stop_ms: float | None = None, dt_ms=None) -> SpikeTrains:
    """SpikeTrains of a ``neo.Block`` (its first segment), a ``Segment`` or a list of trains.

    Parameters
    ----------
    obj : neo.Block, neo.Segment or sequence of neo.SpikeTrain
    n_exc : int, optional
        Default: the trains annotated ``population='E'``.
    t_stop_ms : float, optional
        Default: the latest ``t_stop`` of the trains.
    dt_ms : float, optional
        Snap times on this step grid to refsim's step times.

    Raises
    ------
    ConfigError
        Not Neo objects, trains without units of time, or annotations that disagree.
    """
    neo = require("neo", "from_neo", extra="neo")
    if isinstance(obj, neo.Block):
        if not obj.segments:
            raise ConfigError("from_neo: a Block without segments")
        obj = obj.segments[0]
    try:
        trains = list(obj.spiketrains if isinstance(obj, neo.Segment) else obj)
    except TypeError:
        trains = None
    if trains is None or not all(isinstance(s, neo.SpikeTrain) for s in trains):
        raise ConfigError("from_neo: allowed a neo.Block, neo.Segment or a list of neo.SpikeTrain")
    try:
        times = [np.asarray(s.rescale("ms").magnitude, np.float64) for s in trains]
        stops = [float(s.t_stop.rescale("ms").magnitude) for s in trains]
    except ValueError as e:
        raise ConfigError(f"from_neo: trains whose times are not in a unit of time ({e})") from None
    index = [s.annotations.get("neuron", k) for k, s in enumerate(trains)]
    if not all(isinstance(k, (int, np.integer)) for k in index) or sorted(index) != list(range(len(trains))):
        raise ConfigError("from_neo: 'neuron' annotations: allowed each of 0 .. N-1 once")
    pops = [s.annotations.get("population") for s in trains]
    sizes = {"n_neurons": len(trains), "duration_ms": max(stops, default=None)}
    if all(p in ("E", "I") for p in pops) and trains:
        by_neuron = [pops[k] for k in np.argsort(index)]
        sizes["n_exc"] = by_neuron.count("E")
        if "E" in by_neuron[sizes["n_exc"]:]:
            raise ConfigError("from_neo: 'population' annotations: allowed E neurons first, then I")
    raw = RawSpikes(np.concatenate(times) if times else np.zeros(0),
                    np.repeat(index, [t.size for t in times]).astype(np.int64),
                    sizes={k: v for k, v in sizes.items() if v is not None})
    return finish("Neo spike trains", "Neo", raw, n_exc=n_exc, t_stop_ms=t_stop_ms, dt_ms=dt_ms)
