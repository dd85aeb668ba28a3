"""Input-layer encodings."""
