"""Backends for array maths outside training (Bessel functions, amplitudes, spectra)."""
