"""`python -m ecomctl`: the same CLI as the console script."""

from ecomctl.cli import main

main()
