"""`python -m callsctl`, the same as the `callsctl` console script."""

from callsctl.cli import main

main()
