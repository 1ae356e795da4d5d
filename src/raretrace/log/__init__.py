"""The transparency log: RFC 9162 Merkle hashing and proofs, C2SP tiles, checkpoints, notes, cosignatures."""
