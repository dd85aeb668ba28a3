"""The compiler: one torch.compile per set of parameter objects, the old graph dropped on each change."""

from __future__ import annotations

import torch
from torch import nn

import aire
from aire.signals.image import ImageSignal, synthetic_image
from aire.train.callbacks import Compiler


class FakeTrainer:
    def __init__(self):
        self.network = aire.build_network(ImageSignal(image=synthetic_image(8)), [6, 6])
        self.model = self.step_model = self.network


def test_recompiles_only_when_the_parameters_were_replaced(monkeypatch):
    compiled, resets = [], []
    monkeypatch.setattr(torch, "compile", lambda module, dynamic: compiled.append(module) or ("compiled", module))
    monkeypatch.setattr(torch.compiler, "reset", lambda: resets.append(1))
    trainer, compiler = FakeTrainer(), Compiler()
    compiler.before_step(trainer, 0)
    compiler.before_step(trainer, 1)
    assert compiler.compiles == 1 and resets == [] and trainer.step_model == ("compiled", trainer.network)
    trainer.network.remove_neurons(1, torch.tensor([0]))  # surgery replaces the parameter objects
    compiler.before_step(trainer, 2)
    assert compiler.compiles == 2 and resets == [1]
    trainer.network.biases[0] = nn.Parameter(trainer.network.biases[0].detach().clone())  # as a rollback does
    compiler.before_step(trainer, 3)
    assert compiler.compiles == 3 and resets == [1, 1] and compiled == [trainer.network] * 3
