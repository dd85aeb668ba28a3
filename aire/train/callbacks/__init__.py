"""The trainer's callbacks, one job each (aire.interfaces.Callback): plugin events, the divergence
guard, evaluation, checkpoints, the progress bar and torch.compile."""

from aire.train.callbacks.checkpoint import Checkpointing
from aire.train.callbacks.compile import Compiler
from aire.train.callbacks.evaluation import Evaluation
from aire.train.callbacks.events import PluginEvents
from aire.train.callbacks.guard import DivergenceGuard
from aire.train.callbacks.progress import ProgressBar

__all__ = ["Checkpointing", "Compiler", "DivergenceGuard", "Evaluation", "PluginEvents", "ProgressBar"]
