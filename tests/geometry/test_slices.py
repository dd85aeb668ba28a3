"""SDF slices: the distance on the three axis planes, pictured with labelled axes and a colour bar."""

from __future__ import annotations

import numpy as np
import torch

from aire.geometry.slices import plot_slices, sdf_slices


class Sphere(torch.nn.Module):
    """The exact SDF of a sphere of radius 0.5 centred at c (a stand-in for a fitted network)."""

    def __init__(self, centre=(0.0, 0.0, 0.0)):
        super().__init__()
        self.centre = torch.nn.Parameter(torch.tensor(centre))

    def forward(self, points):
        return ((points - self.centre).norm(dim=1) - 0.5)[:, None]


def test_slices_hold_the_distance_on_each_plane():
    centre = np.array([0.2, -0.1, 0.3])
    at = (0.1, 0.0, -0.2)
    slices = sdf_slices(Sphere(tuple(centre)), resolution=9, at=at)
    axis = np.linspace(-1, 1, 9)
    v, h = np.meshgrid(axis, axis, indexing="ij")  # [vertical, horizontal], row 0 at -1
    expected = {
        0: np.sqrt((at[0] - centre[0]) ** 2 + (h - centre[1]) ** 2 + (v - centre[2]) ** 2) - 0.5,  # x: (y, z)
        1: np.sqrt((h - centre[0]) ** 2 + (at[1] - centre[1]) ** 2 + (v - centre[2]) ** 2) - 0.5,  # y: (x, z)
        2: np.sqrt((h - centre[0]) ** 2 + (v - centre[1]) ** 2 + (at[2] - centre[2]) ** 2) - 0.5,  # z: (x, y)
    }
    for i, values in enumerate(slices):
        assert values.shape == (9, 9)
        assert np.allclose(values, expected[i], atol=1e-6)


def test_the_picture_labels_its_axes_and_colour_bar_and_draws_the_surface():
    at = (0.0, 0.25, 0.0)
    fig = plot_slices(sdf_slices(Sphere(), resolution=32, at=at), at)
    panels, colour_bar = fig.axes[:3], fig.axes[3]
    assert [(ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) for ax in panels] == [
        ("y (normalised)", "z (normalised)", "x = 0.00"), ("x (normalised)", "z (normalised)", "y = 0.25"),
        ("x (normalised)", "y (normalised)", "z = 0.00")]
    assert colour_bar.get_ylabel() == "signed distance (normalised units)"
    assert all(ax.collections for ax in panels)  # the zero level set, drawn as a contour on every plane
