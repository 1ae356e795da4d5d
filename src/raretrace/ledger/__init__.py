"""The ledger: typed custody events and the registry's append pipeline."""
