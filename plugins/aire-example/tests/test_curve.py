"""The 1-D curve signal: the signal contract, reading files, refusing bad ones, and its export."""

import numpy as np
import pytest
import torch

import aire
from aire.testing import check_signal
from aire_example.curve import Curve, chirp


def test_curve_honours_the_signal_contract():
    check_signal(Curve(values=chirp(64)))


def test_a_file_of_numbers_is_sampled_on_a_uniform_grid(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("0.5\n-1\n2 3\n")
    signal = aire.create("signal", "curve", str(path))
    x, y = signal.sample(None)
    assert torch.allclose(x[:, 0], torch.tensor([-1.0, -1 / 3, 1 / 3, 1.0]))
    assert y[:, 0].tolist() == [0.5, -1.0, 2.0, 3.0]
    assert signal.sources() == [path]


def test_chirp_is_the_documented_function():
    x = np.linspace(-1, 1, 5)
    assert np.allclose(chirp(5), np.sin(np.pi * (3 * x + 2 * x**2)))
    assert chirp(5)[2] == 0.0  # sin(0) at x = 0


@pytest.mark.parametrize("content, message", [
    (None, "curve file not found"),
    ("1\nabc\n", "is not a list of numbers"),
    ("1\n", "need at least 2 samples"),
    ("1\nnan\n", "NaN or infinite"),
])
def test_bad_files_are_input_errors(tmp_path, content, message):
    path = tmp_path / "c.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(aire.InputError, match=message):
        Curve(path)


def test_rmse_and_export_use_the_model_prediction(tmp_path):
    signal = Curve(values=[0.0, 1.0, 0.0])

    class Constant(torch.nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 1), 0.5)

    assert signal.evaluate(Constant()) == {"rmse": pytest.approx(0.5)}
    [path] = signal.export(Constant(), tmp_path)
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    assert path.read_text().splitlines()[0] == "x,target,prediction"
    assert rows.tolist() == [[-1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [1.0, 0.0, 0.5]]
