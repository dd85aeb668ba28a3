"""SDF slices: the distance on the three axis planes, pictured with labelled axes and a colour bar."""

from __future__ import annotations

import numpy as np
import torch

from aire.geometry.slices import plot_slices, sdf_slices, slices_picture


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


def test_the_logger_picture_is_blue_inside_red_outside_with_the_vertical_axis_up():
    """A sphere of radius 0.5 centred at y = +0.5: on the z-slice (x across, y up) the blue disc is in the upper
    half; rows run from +1 at the top to -1 at the bottom; the colour of a pixel at distance d is RdBu_r at
    0.5 + d / (2 vmax), vmax the largest |distance| on the three slices (the corners (0, -1, +-1) and
    (+-1, -1, 0): sqrt(3.25) - 0.5); the slices are 2 white columns apart."""
    import matplotlib

    r = 21
    picture = slices_picture(sdf_slices(Sphere((0.0, 0.5, 0.0)), resolution=r))
    assert picture.shape == (r, 3 * r + 4, 3) and picture.min() >= 0 and picture.max() <= 1
    assert np.all(picture[:, r:r + 2] == 1.0) and np.all(picture[:, 2 * r + 2:2 * r + 4] == 1.0)
    z_slice = picture[:, 2 * r + 4:]
    row_of = {y: round((1 - y) * (r - 1) / 2) for y in (0.5, -1.0)}  # y -> picture row: 5 and 20
    vmax = np.sqrt(3.25) - 0.5
    colour = lambda d: np.array(matplotlib.colormaps["RdBu_r"](0.5 + 0.5 * d / vmax)[:3])  # noqa: E731
    centre = z_slice[row_of[0.5], r // 2]  # (x, y) = (0, 0.5): the sphere's centre, 0.5 deep
    below = z_slice[row_of[-1.0], r // 2]  # (0, -1): 1.5 from the centre, 1.0 outside
    assert np.allclose(centre, colour(-0.5), atol=1e-6) and centre[2] > centre[0]  # blue
    assert np.allclose(below, colour(1.0), atol=1e-6) and below[0] > below[2]  # red
    assert np.allclose(z_slice[r - 1 - row_of[0.5], r // 2], colour(0.5), atol=1e-6)  # y = -0.5: 1.0 - 0.5 out
