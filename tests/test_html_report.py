"""report.html: written by every fit, self-contained, its pictures readable and loaded in a real browser."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess

import imageio.v3 as iio
import numpy as np
import pytest

from aire.cli import main
from aire.html_report import build_html, write_report

#: appended to a copy of the report: on load, every <img>'s decoded size and its place on the page (CSS pixels),
#: and the page's height, go into the DOM chromium dumps
PROBE = """<script>window.addEventListener("load", function () {
  var out = {images: [], height: document.documentElement.scrollHeight};
  document.querySelectorAll("img").forEach(function (img) {
    var box = img.getBoundingClientRect();
    out.images.push({natural: [img.naturalWidth, img.naturalHeight],
                     box: [box.left + window.scrollX, box.top + window.scrollY, box.width, box.height]});
  });
  var pre = document.createElement("pre"); pre.id = "aire-probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});</script>"""

#: the browser window's width; the page's whole height is screenshot
WIDTH = 1200


def _images(page: str) -> list[tuple[str, bytes]]:
    """(MIME type, decoded bytes) of every <img> of the page, in order."""
    return [(mime, base64.b64decode(data)) for mime, data in re.findall(r'<img src="data:([^;"]+);base64,([^"]+)"', page)]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but no chromium is installed (.ci/run installs the Debian package)")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return found


def _headless(chromium: str, tmp_path, *args: str) -> str:
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("which", ["image_fit", "nerf_fit", "sdf_fit"])
def test_a_real_runs_report_loads_every_picture_in_headless_chromium(which, request, tmp_path):
    """The report of a real fit opened in headless Chromium: each <img> decodes to the size of the picture
    embedded (naturalWidth/Height, written into the DOM by a probe script on a copy), and a screenshot of the
    whole page, kept in the test's tmp folder as screenshot.png, shows every picture drawn where the browser
    laid it out (not a blank box)."""
    chromium = _chromium()
    found = request.getfixturevalue(which)
    run = found[0] if isinstance(found, tuple) else found
    page = (run / "report.html").read_text()
    expected = [iio.imread(io.BytesIO(data), index=0).shape[1::-1] for _, data in _images(page)]
    assert len(expected) >= 2  # the training plot and at least one picture of the result
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = _headless(chromium, tmp_path, "--dump-dom", f"--window-size={WIDTH},2400", probe.as_uri())
    found = json.loads(re.search(r'<pre id="aire-probe">(.*?)</pre>', dom).group(1))
    assert [tuple(image["natural"]) for image in found["images"]] == [tuple(int(v) for v in size) for size in expected]
    shot = tmp_path / "screenshot.png"
    page_height = int(found["height"])  # the real page: the probe only appends below it, so the layout is the same
    _headless(chromium, tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{page_height}",
              (run / "report.html").as_uri())
    picture = iio.imread(shot)[..., :3].astype(float)
    assert picture.shape[:2] == (page_height, WIDTH)
    for image in found["images"]:
        left, top, w, h = (int(round(v)) for v in image["box"])
        assert w >= 300 and top + h <= page_height  # shown large enough to read, inside the screenshot
        drawn = picture[top + 2:top + h - 2, left + 2:left + w - 2]
        assert drawn.std() > 10, image  # the picture is painted there, not an empty frame


def test_the_report_is_self_contained_with_labelled_readable_pictures(image_fit):
    run, _ = image_fit
    page = (run / "report.html").read_text()
    assert not re.search(r'(src|href)="(?!data:)', page)  # no external picture, style sheet or link
    assert "http://" not in page and "https://" not in page
    pictures = _images(page)
    assert [mime for mime, _ in pictures] == ["image/png", "image/png"]
    widths = [iio.imread(io.BytesIO(data)).shape[1] for _, data in pictures]
    assert min(widths) >= 600  # the 32x32 image is shown in panels of 220 pixels, not at its own size
    for caption in ("The fitted image (left) beside the reference", "parameter count (bottom)"):
        assert caption in page
    metrics = json.loads((run / "metrics.json").read_text())
    assert f"<td>psnr</td><td class=\"num\">{metrics['psnr']:.6g}</td>" in page
    events = json.loads((run / "history.json").read_text())["events"]
    prunes = [e for e in events if e["event"] == "prune"]
    assert prunes and f"<td class=\"num\">{prunes[0]['step']}</td><td>prune</td>" in page


def test_aire_report_writes_it_again_and_refuses_what_is_not_a_run(image_fit, tmp_path, capsys):
    run, _ = image_fit
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    again = (copy / "report.html").read_text()
    assert again.count("<img ") == (run / "report.html").read_text().count("<img ")
    assert main(["report", str(copy)]) == 0  # the run's own report is replaced without --overwrite
    capsys.readouterr()
    mine = tmp_path / "mine.html"
    mine.write_text("mine")
    assert main(["report", str(copy), "--out", str(mine)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err and mine.read_text() == "mine"
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a finished run (no metrics.json)" in capsys.readouterr().err


def test_an_image_run_whose_input_is_gone_shows_its_reconstruction_and_says_so(image_fit, tmp_path):
    run, _ = image_fit
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["signal"]["path"] = str(tmp_path / "gone.png")
    (copy / "metrics.json").write_text(json.dumps(metrics))
    import aire

    page = write_report(copy, model=aire.load(copy)).read_text()
    assert "no reference to compare: the input" in page and "gone.png is not available" in page
    reconstruction = [data for _, data in _images(page)][1]
    assert np.array_equal(iio.imread(io.BytesIO(reconstruction)), iio.imread(copy / "reconstruction.png"))


def test_a_run_without_events_or_settings_says_so():
    page = build_html("r", {"psnr": 30.0}, {}, [], None, [])
    assert "None: the architecture did not change." in page and "no config.json" in page
    assert "<img" not in page


def test_a_report_that_fails_does_not_fail_the_fit(monkeypatch, tmp_path):
    import aire
    import aire.html_report
    from aire.signals.image import ImageSignal, synthetic_image

    def broken(*args, **kwargs):
        raise RuntimeError("no pictures today")

    monkeypatch.setattr(aire.html_report, "write_report", broken)
    signal = ImageSignal(image=synthetic_image(12))
    result = aire.fit(signal, aire.build_network(signal, [8, 8]), steps=2, eval_every=2, progress=False)
    with pytest.warns(UserWarning, match=r"report.html not written \(RuntimeError: no pictures today\); `aire report"):
        out = aire.save_run(result, signal, tmp_path / "run")
    assert (out / "metrics.json").is_file() and not (out / "report.html").exists()


def test_a_legacy_run_folder_with_a_report_is_still_aires(image_fit, tmp_path):
    from aire.atomic import MARKER, is_aire_folder

    run, _ = image_fit
    legacy = tmp_path / "legacy"
    shutil.copytree(run, legacy, ignore=shutil.ignore_patterns(MARKER, "history.jsonl", "config.json"))
    assert (legacy / "report.html").is_file() and is_aire_folder(legacy)


def test_the_summary_says_what_is_unrecorded():
    page = build_html("r", {"seconds_fit": 12.34}, {}, [], None, [])
    assert "<td>seconds (fit / in all)</td><td>12.3 / -</td>" in page


def test_a_small_render_is_shown_enlarged_with_sharp_pixels(nerf_fit):
    page = (nerf_fit / "report.html").read_text()
    gif = re.search(r'<img src="data:image/gif;base64,[^"]+" alt="turntable.gif"([^>]*)>', page)
    assert gif is not None and gif.group(1) == ' style="width: 320px; image-rendering: pixelated"'  # 24 px frames
