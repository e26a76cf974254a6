"""``python -m nengo_keras``: the ``nengo-keras`` command (see `nengo_keras.cli`)."""

import sys

from .cli import main

sys.exit(main())
