"""`python -m raretrace` runs the CLI (the same as the `raretrace` command)."""

from raretrace.cli.main import main

main()
