"""Tiny fits: one torch thread avoids OpenMP start-up and oversubscription costs (as aire's own tests do)."""

import torch

torch.set_num_threads(1)
