"""raretrace: verifiable rare-earth supply chains from mine to magnet."""

__version__ = "0.1.0"
