"""Keys, canonical JSON and DSSE envelopes: the only place raretrace touches signature bytes."""
