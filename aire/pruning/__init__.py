"""Pruning criteria and the targeted-weight-decay machinery."""
