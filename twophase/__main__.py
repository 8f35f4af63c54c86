"""``python -m twophase``: the ``twophase`` command line (:mod:`twophase.cli`)."""

import sys

from twophase.cli import main

sys.exit(main())
