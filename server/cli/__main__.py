"""``python -m server.cli``: the ``novbe`` command (how tests and the demo start it)."""

from . import main

main()
