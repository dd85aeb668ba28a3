"""aire.images: a corpus of odd inputs generated here (no third-party files), each checked by the decoded pixel.

Kinds: colour modes (CMYK/YCCK JPEG, palette + tRNS, grey + alpha, grey colour key, TIFF CMYK, min-is-white,
palette, associated alpha), bit depth (16-bit PNG written by a minimal encoder below, independent of the
decoder, and 16-bit TIFF), orientation (EXIF 6 applied and ignored; all eight tags against Pillow's
exif_transpose), value range (float TIFF up to 4, NPY, Radiance HDR, EXR: the recorded affine rule; NaN
refused), formats (EXR with and without its extra; a wrong name, garbage, a truncated file: one line).
"""

from __future__ import annotations

import io
import struct
import sys
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from aire.errors import InputError
from aire.images import composite_on_white, decode_image, orient

RED, BLUE = (255, 0, 0), (0, 0, 255)


def png_bytes(samples: np.ndarray, colour_type: int, depth: int, chunks: dict[bytes, bytes] | None = None) -> bytes:
    """A minimal PNG (PNG spec 1.2: IHDR, optional chunks, one IDAT of unfiltered rows, IEND) of uint8/uint16
    samples (H, W, S), big-endian at 16 bits; independent of every PNG library."""
    h, w = samples.shape[:2]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = samples.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1).tobytes()
    stride = len(rows) // h
    raw = b"".join(b"\x00" + rows[i * stride:(i + 1) * stride] for i in range(h))
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0))
    for kind, content in (chunks or {}).items():
        body += chunk(kind, content)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _palette_half_transparent(path):
    """8x8 palette image: left half index 0 (red, fully transparent), right half index 1 (blue, opaque)."""
    im = Image.new("P", (8, 8))
    im.putpalette([*RED, *BLUE] + [0] * 762)
    im.putdata([0 if x < 4 else 1 for y in range(8) for x in range(8)])
    im.save(path, transparency=0 if path.suffix == ".gif" else bytes([0, 255]))  # GIF: one transparent index
    return path


# ----------------------------------------------------------------------------- colour modes
def test_cmyk_jpeg_is_converted_not_read_as_alpha(tmp_path):
    # C=0, M=0.5, Y=1, K=0.2 is RGB (1-C)(1-K) = (0.8, 0.4, 0.0)
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[:] = [0, 128, 255, 51]
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    out = decode_image(tmp_path / "cmyk.jpg")
    assert out.alpha is None and out.colour.shape == (16, 16, 3)
    assert np.allclose(out.colour[8, 8], [0.8, 0.4, 0.0], atol=0.02)
    assert out.info.mode == "CMYK" and out.info.format == "JPEG"


def test_ycck_jpeg_is_converted(tmp_path):
    import imagecodecs

    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[:] = [0, 128, 255, 51]
    # Adobe CMYK/YCCK JPEGs store inverted inks (Photoshop's convention, which Pillow and browsers follow)
    (tmp_path / "ycck.jpg").write_bytes(imagecodecs.jpeg8_encode(255 - cmyk, level=95, colorspace="CMYK",
                                                                 outcolorspace="YCCK"))
    out = decode_image(tmp_path / "ycck.jpg")
    assert out.info.mode == "YCCK" and out.alpha is None
    assert np.allclose(out.colour[8, 8], [0.8, 0.4, 0.0], atol=0.02)


def test_palette_png_transparency_is_real_alpha(tmp_path):
    out = decode_image(_palette_half_transparent(tmp_path / "p.png"))
    assert out.info.mode == "P+tRNS"
    assert np.all(out.alpha[:, :4] == 0.0) and np.all(out.alpha[:, 4:] == 1.0) and out.alpha.shape == (8, 8, 1)
    flat, fraction = composite_on_white(out)
    assert fraction == 0.5
    assert np.allclose(flat[:, :4], 1.0) and np.allclose(flat[:, 4:], [0, 0, 1])


def test_palette_gif_transparency_is_real_alpha(tmp_path):
    out = decode_image(_palette_half_transparent(tmp_path / "p.gif"))
    flat, _ = composite_on_white(out)
    assert np.allclose(flat[:, :4], 1.0) and np.allclose(flat[:, 4:], [0, 0, 1])


def test_grey_plus_alpha_keeps_one_colour_channel(tmp_path):
    la = np.zeros((4, 4, 2), np.uint8)
    la[..., 0], la[..., 1] = 200, 255
    la[0, 0] = [50, 100]
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    out = decode_image(tmp_path / "la.png")
    assert out.colour.shape == (4, 4, 1) and out.alpha.shape == (4, 4, 1)
    assert out.colour[0, 0, 0] == pytest.approx(50 / 255) and out.alpha[0, 0, 0] == pytest.approx(100 / 255)
    assert out.colour[1, 1, 0] == pytest.approx(200 / 255) and out.alpha[1, 1, 0] == 1.0


def test_grey_colour_key_becomes_alpha(tmp_path):
    grey = np.full((2, 4, 1), 7, np.uint8)
    grey[0, 1] = 9
    (tmp_path / "key.png").write_bytes(png_bytes(grey, 0, 8, {b"tRNS": struct.pack(">H", 9)}))
    out = decode_image(tmp_path / "key.png")
    assert out.alpha[0, 1, 0] == 0.0 and out.alpha[0, 0, 0] == 1.0 and out.colour[0, 0, 0] == pytest.approx(7 / 255)


def test_fully_opaque_alpha_changes_nothing(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 1], rgba[..., 3] = 90, 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    out = decode_image(tmp_path / "opaque.png")
    flat, fraction = composite_on_white(out)
    assert fraction == 0.0 and np.allclose(flat, [0, 90 / 255, 0])


@pytest.mark.parametrize("kind", ["cmyk", "miniswhite", "palette", "assocalpha", "unassalpha", "lzw"])
def test_tiff_photometric_interpretations(tmp_path, kind):
    path = tmp_path / f"{kind}.tif"
    if kind == "cmyk":
        ink = np.zeros((4, 4, 4), np.uint8)
        ink[:] = [0, 128, 255, 51]
        tifffile.imwrite(path, ink, photometric="separated")
        expected, alpha = [0.8, (1 - 128 / 255) * 0.8, 0.0], None  # (1 - C)(1 - K), K = 0.2
    elif kind == "miniswhite":
        tifffile.imwrite(path, np.full((4, 4), 51, np.uint8), photometric="miniswhite")
        expected, alpha = [1 - 51 / 255], None
    elif kind == "palette":
        cmap = np.zeros((3, 256), np.uint16)
        cmap[:, 1] = [65535, 32768, 0]
        tifffile.imwrite(path, np.ones((4, 4), np.uint8), photometric="palette", colormap=cmap)
        expected, alpha = [1.0, 32768 / 65535, 0.0], None
    elif kind in ("assocalpha", "unassalpha"):
        rgba = np.zeros((4, 4, 4), np.uint8)
        rgba[:] = [100, 50, 0, 200] if kind == "assocalpha" else [250, 125, 0, 200]
        tifffile.imwrite(path, rgba, photometric="rgb", extrasamples=[kind])
        # associated (premultiplied) 100/200 and straight 250/255 are both ~0.98 of full red
        expected, alpha = ([0.5, 0.25, 0.0] if kind == "assocalpha" else [250 / 255, 125 / 255, 0.0]), 200 / 255
    else:
        Image.fromarray(np.full((4, 4, 3), [10, 20, 30], np.uint8)).save(path, compression="tiff_lzw")
        expected, alpha = [10 / 255, 20 / 255, 30 / 255], None
    out = decode_image(path)
    assert np.allclose(out.colour[2, 2], expected, atol=1e-3), (out.colour[2, 2], out.info)
    assert (out.alpha is None) == (alpha is None)
    if alpha is not None:
        assert out.alpha[2, 2, 0] == pytest.approx(alpha)


def test_tiff_extra_sample_of_unspecified_meaning_is_not_alpha(tmp_path):
    rgbx = np.zeros((4, 4, 4), np.uint8)
    rgbx[:] = [10, 20, 30, 0]
    tifffile.imwrite(tmp_path / "x.tif", rgbx, photometric="rgb", extrasamples=["unspecified"])
    with pytest.warns(UserWarning, match="unspecified meaning ignored"):
        out = decode_image(tmp_path / "x.tif")
    assert out.alpha is None and np.allclose(out.colour[0, 0], [10 / 255, 20 / 255, 30 / 255])


# ----------------------------------------------------------------------------- bit depth
@pytest.mark.parametrize("colour_type, channels", [(2, 3), (6, 4), (4, 2), (0, 1)])
def test_sixteen_bit_png_keeps_all_bits(tmp_path, colour_type, channels):
    samples = np.full((3, 5, channels), 65535, np.uint16)
    samples[1, 2, 0] = 1000  # 1000/65535 = 0.01526; 8 bits would give 4/255 = 0.01569
    (tmp_path / "deep.png").write_bytes(png_bytes(samples, colour_type, 16))
    out = decode_image(tmp_path / "deep.png")
    assert out.colour[1, 2, 0] == 1000 / 65535
    assert out.info.bit_depth == 16 and out.info.value_scale == 65535
    assert (out.alpha is not None) == (channels in (2, 4))


def test_sixteen_bit_png_colour_key_becomes_alpha(tmp_path):
    samples = np.full((2, 3, 3), 1000, np.uint16)
    samples[1, 1] = [5, 6, 7]
    (tmp_path / "key16.png").write_bytes(png_bytes(samples, 2, 16, {b"tRNS": struct.pack(">HHH", 5, 6, 7)}))
    out = decode_image(tmp_path / "key16.png")
    assert out.alpha[1, 1, 0] == 0.0 and out.alpha[0, 0, 0] == 1.0 and out.colour[0, 0, 0] == 1000 / 65535


def test_sixteen_bit_tiff_keeps_all_bits(tmp_path):
    rgb = np.full((4, 5, 3), 40000, np.uint16)
    rgb[1, 2] = [1000, 1, 65535]
    tifffile.imwrite(tmp_path / "deep.tif", rgb, photometric="rgb")
    out = decode_image(tmp_path / "deep.tif")
    assert np.array_equal(out.colour[1, 2], np.array([1000, 1, 65535]) / 65535)
    assert out.info.bit_depth == 16 and out.info.mode == "RGB;16"


# ----------------------------------------------------------------------------- orientation
def _rotated_jpeg(path, tag):
    """16 rows x 24 columns, black with a red 8x8 block at the stored top-left corner, EXIF orientation `tag`."""
    img = np.zeros((16, 24, 3), np.uint8)
    img[:8, :8] = RED
    exif = Image.Exif()
    exif[0x0112] = tag
    Image.fromarray(img).save(path, quality=95, exif=exif.tobytes())
    return path


def test_exif_orientation_six_is_applied_as_viewers_do(tmp_path):
    out = decode_image(_rotated_jpeg(tmp_path / "r.jpg", 6))
    # orientation 6: the stored image is shown turned 90 degrees clockwise, its top-left block at the top right
    assert out.colour.shape == (24, 16, 3) and out.info.orientation == 6 and out.info.orientation_applied
    assert np.allclose(out.colour[3, 12], [1, 0, 0], atol=0.05) and np.allclose(out.colour[3, 3], 0, atol=0.05)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "r.jpg")), dtype=np.float64) / 255
    assert np.allclose(out.colour, shown)


def test_exif_orientation_can_be_ignored(tmp_path):
    out = decode_image(_rotated_jpeg(tmp_path / "r.jpg", 6), orientation="ignore")
    assert out.colour.shape == (16, 24, 3) and out.info.orientation == 6 and not out.info.orientation_applied
    assert np.allclose(out.colour[3, 3], [1, 0, 0], atol=0.05)
    with pytest.raises(InputError, match="orientation"):
        decode_image(tmp_path / "r.jpg", orientation="sideways")


@pytest.mark.parametrize("tag", range(1, 9))
def test_every_orientation_matches_pillows_exif_transpose(tmp_path, tag):
    img = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3) * 5
    exif = Image.Exif()
    exif[0x0112] = tag
    Image.fromarray(img).save(tmp_path / "o.png", exif=exif.tobytes())  # lossless, EXIF in the eXIf chunk
    out = decode_image(tmp_path / "o.png")
    shown = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    assert np.array_equal(np.rint(out.colour * 255).astype(np.uint8), shown)
    assert np.array_equal(orient(img, tag), shown)


def test_tiff_orientation_tag_is_applied(tmp_path):
    img = np.zeros((4, 6), np.uint8)
    img[0, 0] = 255
    tifffile.imwrite(tmp_path / "o.tif", img, extratags=[(274, "H", 1, 6, True)])
    out = decode_image(tmp_path / "o.tif")
    assert out.colour.shape == (6, 4, 1) and out.colour[0, 3, 0] == 1.0 and out.colour.sum() == 1.0


# ----------------------------------------------------------------------------- value range
def test_float_tiff_above_one_is_mapped_not_clipped(tmp_path):
    values = np.linspace(0, 4, 12, dtype=np.float32).reshape(3, 4)
    tifffile.imwrite(tmp_path / "f.tif", values)
    out = decode_image(tmp_path / "f.tif")
    info = out.info
    assert (info.value_range, info.value_offset, info.value_scale) == ("affine", 0.0, 4.0)
    assert (info.original_min, info.original_max) == (0.0, 4.0)
    assert np.allclose(out.colour[..., 0], values / 4)  # distinct values stay distinct: nothing clipped
    assert np.allclose(info.value_offset + info.value_scale * out.colour[..., 0], values)
    with pytest.raises(InputError, match=r"values in \[0, 4\] leave \[0, 1\]"):
        decode_image(tmp_path / "f.tif", value_range="refuse")


def test_float_inside_unit_range_is_taken_as_is(tmp_path):
    values = np.linspace(0.1, 0.9, 12).reshape(3, 4)
    np.save(tmp_path / "u.npy", values)
    out = decode_image(tmp_path / "u.npy")
    assert out.info.value_range == "identity" and np.array_equal(out.colour[..., 0], values)


def test_npy_negative_values_use_the_recorded_offset(tmp_path):
    rgb = np.zeros((2, 3, 3))
    rgb[0, 0] = [-1.0, 3.0, 0.5]
    np.save(tmp_path / "signed.npy", rgb)
    out = decode_image(tmp_path / "signed.npy")
    assert (out.info.value_offset, out.info.value_scale) == (-1.0, 4.0)
    assert np.allclose(out.colour[0, 0], [0.0, 1.0, 0.375]) and np.allclose(out.colour[1, 1], 0.25)


def test_npy_conventions_and_refusals(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[0, 0] = [255, 0, 0, 0]
    np.save(tmp_path / "rgba.npy", rgba)
    out = decode_image(tmp_path / "rgba.npy")
    assert out.alpha[0, 0, 0] == 0.0 and out.colour[0, 0, 0] == 1.0
    np.save(tmp_path / "int.npy", np.zeros((2, 2), np.int64))
    with pytest.raises(InputError, match="dtype int64"):
        decode_image(tmp_path / "int.npy")
    np.save(tmp_path / "five.npy", np.zeros((2, 2, 5)))
    with pytest.raises(InputError, match="shape"):
        decode_image(tmp_path / "five.npy")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_refused(tmp_path, bad):
    values = np.zeros((3, 3), np.float32)
    values[1, 1] = bad
    np.save(tmp_path / "bad.npy", values)
    with pytest.raises(InputError, match="NaN or infinite"):
        decode_image(tmp_path / "bad.npy")


def test_radiance_hdr_is_read_with_the_affine_rule(tmp_path):
    import imagecodecs

    hdr = np.full((3, 4, 3), 0.5, np.float32)
    hdr[0, 0] = [8.0, 2.0, 1.0]
    (tmp_path / "sky.hdr").write_bytes(imagecodecs.rgbe_encode(hdr))
    out = decode_image(tmp_path / "sky.hdr")
    assert out.info.format == "HDR" and out.info.value_scale == pytest.approx(8.0)
    assert np.allclose(out.colour[0, 0], [1.0, 0.25, 0.125], rtol=0.01)  # RGBE keeps ~1 % precision


# ----------------------------------------------------------------------------- EXR
def _write_exr(path, channels):
    openexr = pytest.importorskip("OpenEXR")
    channels = {name: np.ascontiguousarray(pixels) for name, pixels in channels.items()}  # the writer ignores strides
    header = {"compression": openexr.NO_COMPRESSION, "type": openexr.scanlineimage}
    with openexr.File(header, channels) as exr:
        exr.write(str(path))
    return path


def test_uncompressed_scanline_exr_is_read_for_real(tmp_path):
    rgb = np.zeros((3, 4, 3), np.float32)
    rgb[0, 0], rgb[2, 3] = [4.0, 0.5, 0.25], [1.0, 2.0, 3.0]
    path = _write_exr(tmp_path / "img.exr", {"R": rgb[..., 0], "G": rgb[..., 1].astype(np.float16), "B": rgb[..., 2]})
    out = decode_image(path)
    assert out.info.format == "EXR" and out.info.value_scale == 4.0 and out.alpha is None
    assert np.allclose(out.colour * 4.0, rgb)


def test_exr_alpha_is_premultiplied_by_convention(tmp_path):
    colour = np.full((2, 2), 0.25, np.float32)  # premultiplied: straight colour 0.25 / 0.5 = 0.5
    path = _write_exr(tmp_path / "a.exr", {"Y": colour, "A": np.full((2, 2), 0.5, np.float32)})
    out = decode_image(path)
    assert out.colour.shape == (2, 2, 1) and np.allclose(out.colour, 0.5) and np.allclose(out.alpha, 0.5)


def test_exr_without_its_extra_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "OpenEXR", None)  # import OpenEXR now raises ImportError
    path = tmp_path / "img.exr"
    path.write_bytes(b"v/1\x01" + bytes(60))
    with pytest.raises(InputError, match=r"aire-inr\[exr\]") as caught:
        decode_image(path)
    assert "\n" not in str(caught.value)


# ----------------------------------------------------------------------------- formats and broken files
@pytest.mark.parametrize("name, content, message", [
    ("photo.jpg", "png", "the file is PNG but its name says JPEG"),
    ("photo.png", b"this is not an image at all", "not a PNG file"),
    ("photo.xyz", b"this is not an image at all", "unrecognised or unsupported format"),
    ("photo.png", "truncated", "PNG decoder failed"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + bytes(20), "JPEG decoder failed"),
    ("photo.tif", b"II*\x00" + bytes(20), "TIFF decoder failed"),
    ("photo.npy", b"\x93NUMPY" + bytes(20), "cannot read image"),
    ("missing.png", None, "file not found"),
])
def test_wrong_names_and_broken_files_are_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content in ("png", "truncated"):
        buf = io.BytesIO()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "PNG")
        content = buf.getvalue() if content == "png" else buf.getvalue()[:40]
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        decode_image(path)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("cannot read image")


def test_a_frame_is_named_as_a_frame(tmp_path):
    (tmp_path / "r_0.png").write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot read frame .*r_0.png: not a PNG file"):
        decode_image(tmp_path / "r_0.png", what="frame")


def test_no_extension_is_decoded_by_signature(tmp_path):
    Image.fromarray(np.full((2, 2, 3), 51, np.uint8)).save(tmp_path / "noext", "PNG")
    out = decode_image(tmp_path / "noext")
    assert out.info.format == "PNG" and np.allclose(out.colour, 0.2)
