"""Terminal renderings the CLI and the demo share (Rich tables, verdict grids, CSV of results)."""
