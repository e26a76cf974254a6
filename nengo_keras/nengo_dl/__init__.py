"""NengoDL compatibility: the facade and the optional simulator backend.

- `compat`: `Converter` (``nengo_dl.Converter``'s API over `nengo_keras.to_nengo`),
  `LayerConverter` (also at ``nengo_keras.converter.LayerConverter``, as in
  NengoDL) and NengoDL's ``trainable`` config, which only networks made
  through this facade carry;
- `backend`: running converted networks in ``nengo_dl.Simulator`` (an optional
  extra, imported only when asked for); registers itself as an engine of
  `nengo_keras.run.simulation`.

May import: `nengo_keras.conversion`, `nengo_keras.converters`, `nengo_keras.run`,
`nengo_keras.errors` and modules of this subpackage.
"""

from . import backend, compat
from .compat import Converter, LayerConverter

__all__ = ["Converter", "LayerConverter"]
