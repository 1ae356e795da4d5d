"""Custody events and the ledger state that judges a batch: pure domain, no I/O."""
