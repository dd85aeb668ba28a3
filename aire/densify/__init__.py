"""Densification policies: which input frequencies to add."""
