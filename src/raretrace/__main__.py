"""`python -m raretrace` runs the CLI (the same as the `raretrace` command)."""

from raretrace.cli import main

main()
