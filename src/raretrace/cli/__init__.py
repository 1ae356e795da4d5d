"""The command line: one module per command group; they parse and render only."""
