"""``python -m medsegkit``: the command line, as the ``medsegkit`` script runs it."""

from medsegkit.cli import main

main()
