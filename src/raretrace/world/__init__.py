"""Supply-chain security analytics: datasets, metrics, scenarios (issue #6). Pure domain code."""
