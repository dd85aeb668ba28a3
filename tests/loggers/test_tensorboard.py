"""--log tensorboard: scalars, parameter count, structural events and pictures at evaluations in TensorBoard
event files (read back with TensorBoard's own reader); without tensorboard, one line naming the extra."""

from __future__ import annotations

import json
import sys

import imageio.v3 as iio
import numpy as np
import pytest

import aire
from aire.cli import main
from aire.errors import InputError
from aire.loggers import live_dir
from aire.loggers.tensorboard import summary_writer_class
from aire.signals.image import ImageSignal, synthetic_image

SCHEDULE = aire.ScheduleConfig(kind="aire", warmup=0.1, cycles=1, twd_length=0.2, cycle_gap=0.0, target_params=0.8,
                               densify_k=2, prune_layers=(1,))
from tests.notices import expect_notice


def test_tensorboard_logs_metrics_params_events_and_pictures(tmp_path, caplog):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    signal = ImageSignal(image=synthetic_image(12))
    net = aire.build_network(signal, [8, 8, 8], seed=1)
    train = aire.TrainConfig(steps=20, eval_every=10, progress=False, log=("tensorboard",))
    with expect_notice(caplog, "TWD left"):  # 4-step TWD phases cannot reach epsilon
        result = aire.fit(signal, net, train=train, schedule=SCHEDULE, log_dir=tmp_path)
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0, "scalars": 0,
                                                                            "tensors": 0})
    events.Reload()
    psnr = [(e.step, e.value) for e in events.Scalars("metrics/psnr")]
    assert psnr == [(row["step"], pytest.approx(row["psnr"], rel=1e-6)) for row in result.history]
    assert [(e.step, e.value) for e in events.Scalars("params")] == [(r["step"], r["params"]) for r in result.history]
    assert [e.step for e in events.Scalars("events/prune")] == [e["step"] for e in result.events if e["event"] == "prune"]
    assert [e.step for e in events.Scalars("events/densify")] == [e["step"] for e in result.events
                                                                   if e["event"] == "densify"]
    pictures = events.Images("reconstruction")
    assert [p.step for p in pictures] == [row["step"] for row in result.history]
    assert (pictures[-1].height, pictures[-1].width) == (12, 12)
    decoded = iio.imread(pictures[-1].encoded_image_string, extension=".png")
    expected = np.clip(signal.preview(result.network) * 255, 0, 255)
    assert np.abs(decoded[..., :3].astype(float) - expected).max() <= 1.0
    texts = [json.loads(t.tensor_proto.string_val[0].decode()) for t in events.Tensors("events/text_summary")]
    assert [t["event"] for t in texts] == [e["event"] for e in result.events]


def test_tensorboard_pictures_of_a_nerf_fit_are_its_first_test_view(tmp_path, tiny_scene):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from aire.signals.nerf.signal import NerfSignal

    signal = NerfSignal(tiny_scene, samples=4, eval_views=1, eval_size=8, turntable_frames=0)
    net = aire.build_network(signal, [8, 8], seed=1)
    train = aire.TrainConfig(steps=4, eval_every=2, batch_size=32, progress=False, log=("tensorboard",))
    result = aire.fit(signal, net, train=train, schedule=aire.ScheduleConfig(kind="none"), log_dir=tmp_path)
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    pictures = events.Images("reconstruction")
    assert [p.step for p in pictures] == [row["step"] for row in result.history] == [0, 2, 4]
    assert (pictures[-1].height, pictures[-1].width) == (8, 8)  # 24-pixel views on the 8-pixel evaluation grid
    decoded = iio.imread(pictures[-1].encoded_image_string, extension=".png")
    expected = signal.preview(result.model) * 255
    assert np.abs(decoded[..., :3].astype(float) - expected).max() <= 1.0
    assert [(e.step, e.value) for e in events.Scalars("metrics/psnr_test")] == [
        (row["step"], pytest.approx(row["psnr_test"], rel=1e-6)) for row in result.history]


def test_tensorboard_is_not_written_unless_asked_for(tmp_path):
    signal = ImageSignal(image=synthetic_image(8))
    aire.fit(signal, aire.build_network(signal, [4, 4]), steps=4, eval_every=2, progress=False,
             schedule=aire.ScheduleConfig(kind="none"), log_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.jsonl"]


def test_missing_tensorboard_is_one_line_naming_the_extra_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as without the package
    with pytest.raises(InputError, match=r"pip install 'aire-inr\[tensorboard\]'"):
        summary_writer_class()
    image = tmp_path / "in.png"
    iio.imwrite(image, (synthetic_image(8) * 255).round().astype(np.uint8))
    out = tmp_path / "run"
    assert main(["fit", "image", str(image), "--out", str(out), "--steps", "2", "--log", "tensorboard", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("aire: error: --log tensorboard needs the tensorboard package: "
                   "pip install 'aire-inr[tensorboard]'")
    assert not out.exists() and not live_dir(out).exists()


def test_an_unknown_logger_is_refused_by_name(tmp_path, capsys):
    image = tmp_path / "in.png"
    iio.imwrite(image, (synthetic_image(8) * 255).round().astype(np.uint8))
    assert main(["fit", "image", str(image), "--out", str(tmp_path / "run"), "--log", "tensorbord", "--quiet"]) == 2
    assert "unknown logger 'tensorbord' (known: tensorboard)" in capsys.readouterr().err
