"""Signals: data, sampling, loss, metrics and export for one task."""
