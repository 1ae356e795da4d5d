"""Kimberley-style shipment certificates: W3C Verifiable Credentials with Data Integrity proofs,
selective disclosure, Bitstring Status List revocation and offline verification (issue #4)."""
