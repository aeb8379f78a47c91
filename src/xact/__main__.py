"""``python -m xact``: the command line (see :mod:`xact.cli`)."""

from .cli import main

raise SystemExit(main())
