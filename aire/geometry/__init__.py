"""Meshes for the SDF signal: loading and normalisation, signed distances, sampling, extraction, metrics, pictures."""
