"""``python -m hardware.printer URL [--sample az]`` (see :mod:`hardware.printer.tryout`)."""

from .tryout import main

raise SystemExit(main())
