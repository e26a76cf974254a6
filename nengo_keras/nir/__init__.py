"""Export converted spiking networks to NIR, the Neuromorphic Intermediate
Representation (optional extra: ``pip install nengo-keras[nir]``).

NIR files are read by Lava-DL (Loihi 2), SpiNNaker2, Rockpool (Xylo), Sinabs
(Speck), snnTorch, Norse and Spyx. ``docs/nir.rst`` lists what each Nengo
object becomes and how Nengo's discrete-time semantics compare.

Examples
--------
>>> spiking = nengo_keras.to_nengo(
...     model, swap_activations={"relu": nengo.SpikingRectifiedLinear()},
...     scale_firing_rates=100, synapse=0.005)
>>> graph = spiking.to_nir()                 # a nir.NIRGraph
>>> nengo_keras.nir.write(spiking, "net.nir")
>>> nengo_keras.nir.read("net.nir").metadata["dt"]
0.001
"""

from __future__ import annotations

try:
    import nir as _nir
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "nengo_keras.nir needs the `nir` package: pip install 'nengo-keras[nir]'"
    ) from e

from .checks import NIRExportError, check_network
from .export import to_nir
from .reader import to_nengo

__all__ = [
    "NIRExportError", "check_network", "exportable", "read", "to_nengo", "to_nir", "write",
]


def write(result, path, **kwargs):
    """Export a converted network to a NIR file (HDF5).

    Parameters
    ----------
    result : ConvertedModel or nir.NIRGraph
        What `nengo_keras.to_nengo` returned (exported with `to_nir` and
        ``kwargs``), or a graph already exported.
    path : str or path-like
        The file to write (conventionally ``*.nir``).

    Examples
    --------
    >>> nengo_keras.nir.write(spiking, "net.nir", time_unit="step")
    """
    graph = result if isinstance(result, _nir.NIRGraph) else to_nir(result, **kwargs)
    _nir.write(str(path), graph)
    return graph


def read(path):
    """Read a NIR file into a `nir.NIRGraph` (same as ``nir.read``).

    Examples
    --------
    >>> graph = nengo_keras.nir.read("net.nir")
    """
    return _nir.read(str(path))


def exportable(result):
    """Whether `to_nir` accepts ``result`` (True), else the list of problems.

    Examples
    --------
    >>> nengo_keras.nir.exportable(result) is True
    """
    problems = check_network(result)
    return True if not problems else problems
