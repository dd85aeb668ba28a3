"""One image decoder for every reader in aire: what the file declares, not what the array's shape suggests.

:func:`decode_image` picks the reader from the file's signature (its first bytes), never by trying
decoders until one does not fail, and refuses a file whose name claims another format than its
signature. The readers, each the reference library of its format:

* PNG: imagecodecs (libpng): every colour type and bit depth (1-16), tRNS (palette or colour key) as alpha;
* JPEG: Pillow (libjpeg): grey, RGB, CMYK and YCCK (Adobe's inverted CMYK honoured);
* TIFF: tifffile (codecs from imagecodecs): grey, min-is-white, RGB, palette, CMYK; 1-32-bit unsigned
  integers, 16/32/64-bit floats; associated or unassociated alpha;
* BMP, GIF, WebP: Pillow (the first frame of an animation);
* NPY: numpy (``allow_pickle=False``): (H, W) or (H, W, C), C = 1, 2, 3, 4 read as L, LA, RGB, RGBA;
* HDR: imagecodecs (Radiance RGBE): linear float RGB;
* EXR: OpenEXR, the optional extra ``aire-inr[exr]``: R, G, B[, A] or Y[, A]; half or float; alpha premultiplied.

The result is straight (not premultiplied) colour as float64 (H, W, C) with C = 1 (grey) or 3 (RGB),
an alpha channel (H, W, 1) in [0, 1] when the file has one (None otherwise), and an :class:`ImageInfo`.

Colour modes are converted as the file declares them: palette entries are looked up (with their
transparency), CMYK and YCCK become RGB by R = (1 - C)(1 - K) (the naive conversion Pillow and most
viewers use when no ICC profile is applied; embedded ICC profiles are recorded but not applied),
premultiplied alpha is divided out, a fourth channel is alpha only when the file says so.

Orientation: the EXIF orientation tag (JPEG, PNG eXIf, WebP) or the TIFF Orientation tag is applied
as image viewers apply it (the same transposition as Pillow's ``ImageOps.exif_transpose``), unless
``orientation="ignore"``.

Value range rule, recorded in :class:`ImageInfo` so that a fitted reconstruction maps back:
``sample = value_offset + value_scale * colour``, where ``sample`` is a colour sample as stored.

* integers (uint1-uint32, palette, CMYK after conversion): ``value_scale = 2**bits - 1``, offset 0
  ("full-scale"; PNG below 8 bits arrives from libpng expanded to 8 bits, so its scale is 255);
* floats inside [0, 1]: taken as they are ("identity");
* floats leaving [0, 1] (HDR, EXR, float TIFF, NPY): never clipped. With ``value_range="normalise"``
  (the default) the colour is mapped affinely onto [0, 1] by ``lo = min(0, min)``, ``hi = max(1, max)``,
  ``colour = (sample - lo) / (hi - lo)`` ("affine"), so black stays black and colour ratios are kept
  for non-negative data (it divides by the maximum); with ``value_range="refuse"`` such a file is
  refused in one line.

NaN or infinite samples, float alpha outside [0, 1], signed integers, an unknown signature, a known
format this decoder cannot honour (an unknown colour mode, a missing optional reader) are refused with
one :class:`~aire.errors.InputError` line.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np

from aire.errors import InputError

#: extra that installs the EXR reader
EXR_EXTRA = "pip install 'aire-inr[exr]'"

#: signature (first bytes) -> format name
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"II+\x00", "TIFF"), (b"MM\x00+", "TIFF"),
    (b"v/1\x01", "EXR"),
    (b"\x93NUMPY", "NPY"),
    (b"#?RADIANCE", "HDR"), (b"#?RGBE", "HDR"),
    (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
#: file name suffix -> the format it claims
EXTENSIONS: dict[str, str] = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".tif": "TIFF",
    ".tiff": "TIFF", ".exr": "EXR", ".npy": "NPY", ".hdr": "HDR", ".pic": "HDR", ".rgbe": "HDR",
    ".gif": "GIF", ".bmp": "BMP", ".webp": "WEBP",
}
FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "GIF", "WEBP", "NPY", "HDR", "EXR")

Orientation = Literal["apply", "ignore"]
ValueRange = Literal["normalise", "refuse"]


class _Refusal(Exception):
    """Why a file is not turned into pixels, in one line; decode_image re-raises it as InputError."""


@attrs.frozen
class ImageInfo:
    """What the file declared and what the decoder did with it (JSON-ready through :meth:`to_dict`).

    format: PNG, JPEG, TIFF, BMP, GIF, WEBP, NPY, HDR or EXR (from the signature).
    mode: the colour mode the file declares, Pillow-style: "L", "LA", "RGB", "RGBA", "P" (palette),
        "CMYK", "YCCK", "I;16"...; "+tRNS"/"+transparency" when a palette or colour key adds alpha;
        TIFF/EXR/NPY modes name their photometric interpretation or channels.
    bit_depth: bits per stored sample (1, 8, 16, 32...).
    sample_type: "uint", "float" or "bool".
    orientation: the file's orientation tag, 1-8 (EXIF/TIFF numbering; 1 when absent).
    orientation_applied: True when a tag other than 1 was applied.
    value_range: "full-scale", "identity" or "affine" (see the module docstring).
    value_offset, value_scale: stored colour sample = value_offset + value_scale * decoded colour.
    original_min, original_max: range of the colour samples as stored (in the file's units).
    frames: frames/pages in the file (only the first is decoded).
    icc_profile: whether the file embeds an ICC profile (not applied).
    """

    format: str
    mode: str
    bit_depth: int
    sample_type: str
    orientation: int = 1
    orientation_applied: bool = False
    value_range: str = "identity"
    value_offset: float = 0.0
    value_scale: float = 1.0
    original_min: float = 0.0
    original_max: float = 1.0
    frames: int = 1
    icc_profile: bool = False

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class DecodedImage:
    """colour: float64 (H, W, C), C in {1, 3}, straight (not premultiplied), in [0, 1] after the range rule;
    alpha: float64 (H, W, 1) in [0, 1], or None when the file has no alpha; info: :class:`ImageInfo`."""

    colour: np.ndarray
    alpha: np.ndarray | None
    info: ImageInfo


@attrs.define
class _Raw:
    """A reader's output before the shared steps: samples (H, W, S) in their stored type; layout names
    the channels (L, LA, RGB, RGBA)."""

    samples: np.ndarray
    layout: str
    mode: str
    bit_depth: int
    sample_type: str  # "uint", "bool" or "float": what the file stores, whatever dtype samples has now
    full_scale: float | None = None  # the value of full intensity for uint/bool samples; None for floats
    premultiplied: bool = False
    orientation: int = 1
    frames: int = 1
    icc_profile: bool = False


def _detect_format(path: Path, head: bytes) -> str:
    """The format of a file from its first bytes; an unknown signature, or a name claiming another format
    than the signature, is refused."""
    found = None
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            found = name
            break
    if found is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        found = "WEBP"
    claimed = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        if claimed is not None:
            raise _Refusal(f"not a {claimed} file (its first bytes are not a {claimed} signature)")
        raise _Refusal(f"unrecognised or unsupported format (aire reads {', '.join(FORMATS)})")
    if claimed is not None and claimed != found:
        raise _Refusal(f"the file is {found} but its name says {claimed}; rename it")
    return found


def decode_image(path: str | Path, *, orientation: Orientation = "apply", value_range: ValueRange = "normalise",
                 what: str = "image") -> DecodedImage:
    """Decode an image file as straight colour (H, W, C), C in {1, 3}, optional alpha (H, W, 1) and its
    :class:`ImageInfo`, following what the file declares (module docstring: readers, orientation and
    value-range rules).

    Raises InputError, one line "cannot read {what} {path}: reason", for anything it cannot decode
    faithfully (`what` names the file's role for the user, e.g. "frame")."""
    path = Path(path)
    if orientation not in ("apply", "ignore"):
        raise InputError(f"orientation must be 'apply' or 'ignore', got {orientation!r}")
    if value_range not in ("normalise", "refuse"):
        raise InputError(f"value_range must be 'normalise' or 'refuse', got {value_range!r}")
    try:
        return _decode(path, orientation, value_range)
    except _Refusal as exc:
        raise InputError(f"cannot read {what} {path}: {exc}") from None


def _decode(path: Path, orientation: str, value_range: str) -> DecodedImage:
    if not path.exists():
        raise _Refusal("file not found")
    if path.is_dir():
        raise _Refusal("it is a directory, not an image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _Refusal(exc.strerror or str(exc)) from None
    fmt = _detect_format(path, data[:16])
    try:
        raw = _READERS[fmt](path, data)
    except _Refusal:
        raise
    except Exception as exc:  # the library's own complaint about a broken file, as one line
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise _Refusal(f"{fmt} decoder failed: {type(exc).__name__}" + (f": {detail}" if detail else "")) from None
    return _finish(fmt, raw, orientation, value_range)


# ----------------------------------------------------------------------------------- shared steps
def orient(array: np.ndarray, tag: int) -> np.ndarray:
    """Turn (H, W, ...) stored pixels into the displayed image for EXIF/TIFF orientation `tag` (1-8),
    the transposition Pillow's ImageOps.exif_transpose applies (EXIF 2.3, tag 0x0112)."""
    if tag == 2:
        return array[:, ::-1]
    if tag == 3:
        return array[::-1, ::-1]
    if tag == 4:
        return array[::-1]
    if tag == 5:
        return array.swapaxes(0, 1)
    if tag == 6:
        return np.rot90(array, k=-1)
    if tag == 7:
        return array[::-1, ::-1].swapaxes(0, 1)
    if tag == 8:
        return np.rot90(array, k=1)
    return array


def _finish(fmt: str, raw: _Raw, orientation: str, value_range: str) -> DecodedImage:
    samples = raw.samples
    if samples.ndim == 2:
        samples = samples[:, :, None]
    if samples.ndim != 3 or samples.shape[0] < 1 or samples.shape[1] < 1:
        raise _Refusal(f"no pixels (shape {tuple(raw.samples.shape)})")
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[raw.layout]
    if samples.shape[2] != channels:  # a reader's promise broken: never guess from the shape
        raise _Refusal(f"{fmt} {raw.mode} decoded to {samples.shape[2]} channels, expected {channels}")
    tag = raw.orientation if raw.orientation in range(1, 9) else 1
    applied = orientation == "apply" and tag != 1
    if applied:
        samples = orient(samples, tag)
    if raw.sample_type not in ("uint", "bool", "float") or (raw.sample_type == "float") != (raw.full_scale is None):
        raise AssertionError(f"{fmt} reader: sample type {raw.sample_type} with full scale {raw.full_scale}")
    values, sample_type = samples.astype(np.float64), raw.sample_type
    if not np.isfinite(values).all():
        raise _Refusal("it contains NaN or infinite values")
    has_alpha = raw.layout in ("LA", "RGBA")
    colour = values[:, :, :channels - 1] if has_alpha else values
    alpha = values[:, :, channels - 1:] if has_alpha else None
    if raw.full_scale is not None:
        colour = colour / raw.full_scale
        alpha = alpha / raw.full_scale if alpha is not None else None
    elif alpha is not None and (alpha.min() < 0 or alpha.max() > 1):
        raise _Refusal(f"alpha outside [0, 1] (range [{alpha.min():.6g}, {alpha.max():.6g}])")
    if alpha is not None and raw.premultiplied:
        colour = np.divide(colour, alpha, out=np.zeros_like(colour), where=alpha > 0)
        if raw.full_scale is not None:  # integer rounding can leave colour a hair above alpha
            colour = np.minimum(colour, 1.0)
    scale = raw.full_scale if raw.full_scale is not None else 1.0
    lo_raw, hi_raw = float(colour.min()) * scale, float(colour.max()) * scale
    rule, offset = ("full-scale" if raw.full_scale is not None else "identity"), 0.0
    if raw.full_scale is None and (colour.min() < 0 or colour.max() > 1):
        if value_range == "refuse":
            raise _Refusal(f"values in [{lo_raw:.6g}, {hi_raw:.6g}] leave [0, 1] (only [0, 1] is taken here)")
        offset, hi = min(0.0, lo_raw), max(1.0, hi_raw)
        scale, rule = hi - offset, "affine"
        colour = (colour - offset) / scale
    info = ImageInfo(format=fmt, mode=raw.mode, bit_depth=raw.bit_depth, sample_type=sample_type,
                     orientation=tag, orientation_applied=applied, value_range=rule, value_offset=offset,
                     value_scale=float(scale), original_min=lo_raw, original_max=hi_raw, frames=raw.frames,
                     icc_profile=raw.icc_profile)
    return DecodedImage(colour=np.ascontiguousarray(colour),
                        alpha=None if alpha is None else np.ascontiguousarray(alpha), info=info)


def _exif_orientation(exif_bytes: bytes | None) -> int:
    if not exif_bytes:
        return 1
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(exif_bytes)
    except Exception:  # a broken EXIF block says nothing about orientation
        return 1
    value = exif.get(0x0112, 1)
    return int(value) if isinstance(value, int) else 1


def _warn_frames(path: Path, frames: int, unit: str = "frames") -> None:
    if frames > 1:
        warnings.warn(f"{path.name}: has {frames} {unit}; only the first is read", stacklevel=4)


# ----------------------------------------------------------------------------------- readers
_PNG_TYPES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}


def _read_png(path: Path, data: bytes) -> _Raw:
    """PNG through libpng (imagecodecs): full bit depth; palette, grey and colour-key tRNS become alpha."""
    import imagecodecs

    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _Refusal("PNG without an IHDR header (truncated?)")
    depth, colour_type = data[24], data[25]
    if colour_type not in _PNG_TYPES:
        raise _Refusal(f"PNG colour type {colour_type} is not valid")
    chunks: dict[bytes, bytes] = {}
    frames, pos = 1, 8
    while pos + 8 <= len(data):  # chunk headers only: tRNS, eXIf, iCCP, acTL
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind in (b"tRNS", b"eXIf", b"iCCP", b"acTL"):
            chunks[kind] = data[pos + 8:pos + 8 + length]
        if kind == b"IEND":
            break
        pos += 12 + length
    if b"acTL" in chunks and len(chunks[b"acTL"]) >= 4:
        frames = int.from_bytes(chunks[b"acTL"][:4], "big")
    base = _PNG_TYPES[colour_type]
    transparent = b"tRNS" in chunks
    layout = {"L": "LA" if transparent else "L", "RGB": "RGBA" if transparent else "RGB",
              "P": "RGBA" if transparent else "RGB", "LA": "LA", "RGBA": "RGBA"}[base]
    samples = imagecodecs.png_decode(data)
    # libpng expands 1/2/4-bit grey and palettes to 8 bits (scaled to full range); 16 stays 16
    stored_depth = 16 if depth == 16 else 8
    mode = base + (f";{depth}" if depth != 8 else "") + ("+tRNS" if transparent else "")
    _warn_frames(path, frames)
    return _Raw(samples=samples, layout=layout, mode=mode, bit_depth=depth, sample_type="uint",
                full_scale=float(2**stored_depth - 1),
                orientation=_exif_orientation(chunks.get(b"eXIf")), frames=frames, icc_profile=b"iCCP" in chunks)


def _read_pillow(path: Path, data: bytes, fmt: str) -> _Raw:
    """JPEG, BMP, GIF, WebP through Pillow, restricted to the format the signature names."""
    from PIL import Image

    with Image.open(io.BytesIO(data), formats=[fmt]) as im:
        frames = int(getattr(im, "n_frames", 1))
        _warn_frames(path, frames)
        try:
            orientation = int(im.getexif().get(0x0112, 1) or 1)
        except Exception:  # a broken EXIF block says nothing about orientation
            orientation = 1
        icc = bool(im.info.get("icc_profile"))
        declared = im.mode
        transparent = "transparency" in im.info
        if declared == "CMYK" and im.info.get("adobe_transform") == 2:
            declared = "YCCK"  # libjpeg has already turned YCCK into CMYK
        conversions = {
            "1": ("L", "L"), "L": ("LA", "LA") if transparent else ("L", "L"), "LA": ("LA", "LA"), "La": ("LA", "LA"),
            "P": ("RGBA", "RGBA") if transparent else ("RGB", "RGB"), "PA": ("RGBA", "RGBA"),
            "RGB": ("RGBA", "RGBA") if transparent else ("RGB", "RGB"), "RGBA": ("RGBA", "RGBA"),
            "RGBa": ("RGBA", "RGBA"), "RGBX": ("RGB", "RGB"), "CMYK": ("RGB", "RGB"), "YCbCr": ("RGB", "RGB"),
            "I;16": ("I;16", "L"), "I;16L": ("I;16", "L"), "I;16B": ("I;16", "L"), "I;16N": ("I;16", "L"),
            "F": ("F", "L"),
        }
        if im.mode not in conversions:
            raise _Refusal(f"{fmt} colour mode {im.mode} is not supported")
        target, layout = conversions[im.mode]
        if im.mode == "1":
            samples, depth, kind, full = np.asarray(im).astype(bool), 1, "bool", 1.0
        elif target == "I;16":
            samples, depth, kind, full = np.asarray(im).astype(np.uint16), 16, "uint", 65535.0
        elif target == "F":
            samples, depth, kind, full = np.asarray(im, dtype=np.float32), 32, "float", None
        else:
            samples, depth, kind, full = np.asarray(im.convert(target) if target != im.mode else im), 8, "uint", 255.0
            if samples.dtype != np.uint8:
                raise _Refusal(f"{fmt} mode {im.mode} decoded to {samples.dtype}")
    mode = declared + ("+transparency" if transparent else "")
    return _Raw(samples=samples, layout=layout, mode=mode, bit_depth=depth, sample_type=kind, full_scale=full,
                orientation=orientation, frames=frames, icc_profile=icc)


def _read_tiff(path: Path, data: bytes) -> _Raw:
    """TIFF through tifffile: the first page, its photometric interpretation, extra samples and orientation."""
    import tifffile
    from tifffile import EXTRASAMPLE, PHOTOMETRIC

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages[0]
        frames = len(tif.pages)
        try:
            array = page.asarray()
        except ValueError as exc:
            if "imagecodecs" in str(exc):
                raise _Refusal(f"{str(exc).splitlines()[0]} (pip install imagecodecs)") from None
            raise
        photometric = PHOTOMETRIC(page.photometric)
        extras = tuple(page.extrasamples)
        tag = page.tags.get(274)
        orientation = int(tag.value) if tag is not None else 1
        bits = int(page.bitspersample)
        colormap = page.colormap
        icc = page.tags.get(34675) is not None
        axes = page.axes
    _warn_frames(path, frames, "pages")
    if "S" in axes and axes.index("S") != len(axes) - 1:  # planar (separate) storage: samples last
        array = np.moveaxis(array, axes.index("S"), -1)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise _Refusal(f"TIFF page of shape {array.shape} (axes {axes}) is not a 2-D image")
    if array.dtype == np.bool_:
        sample_type, full = "bool", 1.0
    elif np.issubdtype(array.dtype, np.unsignedinteger):
        sample_type, full = "uint", float(2**bits - 1)
    elif np.issubdtype(array.dtype, np.floating):
        sample_type, full = "float", None
    else:
        raise _Refusal(f"TIFF with {array.dtype} samples is not supported "
                       "(unsigned integers or floats)")
    if photometric == PHOTOMETRIC.PALETTE:
        if colormap is None:
            raise _Refusal("palette TIFF without a colour map")
        rgb = np.moveaxis(np.asarray(colormap)[:, array[:, :, 0]], 0, -1)  # (3, H, W) -> (H, W, 3), uint16
        return _Raw(samples=rgb, layout="RGB", mode=f"P;{bits}", bit_depth=bits, sample_type="uint",
                    full_scale=65535.0, orientation=orientation, frames=frames, icc_profile=icc)
    colour_samples = {PHOTOMETRIC.MINISBLACK: 1, PHOTOMETRIC.MINISWHITE: 1, PHOTOMETRIC.RGB: 3,
                      PHOTOMETRIC.SEPARATED: 4}.get(photometric)
    if photometric == PHOTOMETRIC.YCBCR and array.shape[2] >= 3:  # tifffile returns JPEG-compressed YCbCr as RGB
        colour_samples = 3
    if colour_samples is None:
        raise _Refusal(f"TIFF photometric interpretation {photometric.name} is not supported")
    if array.shape[2] < colour_samples:
        raise _Refusal(f"TIFF {photometric.name} with {array.shape[2]} samples per pixel")
    unit = full if full is not None else 1.0
    colour = array[:, :, :colour_samples].astype(np.float64)
    extra = array[:, :, colour_samples:]
    alpha, premultiplied = None, False
    if extra.shape[2]:
        kind = EXTRASAMPLE(extras[0]) if extras else EXTRASAMPLE.UNSPECIFIED
        if kind in (EXTRASAMPLE.ASSOCALPHA, EXTRASAMPLE.UNASSALPHA):
            alpha, premultiplied = extra[:, :, :1].astype(np.float64), kind == EXTRASAMPLE.ASSOCALPHA
        unused = extra.shape[2] - (1 if alpha is not None else 0)
        if unused:
            warnings.warn(f"{path.name}: {unused} extra sample(s) of unspecified meaning ignored (not alpha)",
                          stacklevel=4)
    mode = {1: "L", 3: "RGB", 4: "CMYK"}[colour_samples]
    if photometric == PHOTOMETRIC.MINISWHITE:
        colour, mode = unit - colour, "L;min-is-white"
    if photometric == PHOTOMETRIC.SEPARATED:
        if premultiplied:
            raise _Refusal("CMYK TIFF with premultiplied alpha is not supported")
        ink = colour / unit
        colour = (1.0 - ink[:, :, :3]) * (1.0 - ink[:, :, 3:4]) * unit  # the naive conversion, as Pillow's
    if alpha is not None:
        colour = np.concatenate([colour, alpha], axis=2)
        mode += "+associated-alpha" if premultiplied else "+alpha"
    layout = ("L" if colour_samples == 1 else "RGB") + ("A" if alpha is not None else "")
    return _Raw(samples=colour, layout=layout, mode=mode + (f";{bits}" if bits != 8 else ""), bit_depth=bits,
                sample_type=sample_type, full_scale=full, premultiplied=premultiplied, orientation=orientation,
                frames=frames, icc_profile=icc)


def _read_npy(path: Path, data: bytes) -> _Raw:
    """A NumPy array: (H, W) or (H, W, 1) grey, (H, W, 2) grey + alpha, (H, W, 3) RGB, (H, W, 4) RGBA
    (straight alpha); bool, uint8, uint16 or float."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise _Refusal(str(exc).splitlines()[0]) from None
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise _Refusal(f"NPY of shape {array.shape}; aire reads (H, W) or (H, W, C) "
                       "with C = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA)")
    layout = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[array.shape[2]]
    if array.dtype in (np.uint8, np.uint16):
        kind, full = "uint", float(np.iinfo(array.dtype).max)
    elif array.dtype == np.bool_:
        kind, full = "bool", 1.0
    elif np.issubdtype(array.dtype, np.floating):
        kind, full = "float", None
    else:
        raise _Refusal(f"NPY of dtype {array.dtype}; aire reads bool, uint8, uint16 "
                       "or float arrays")
    return _Raw(samples=array, layout=layout, mode=layout, bit_depth=1 if kind == "bool" else array.dtype.itemsize * 8,
                sample_type=kind, full_scale=full)


def _read_hdr(path: Path, data: bytes) -> _Raw:
    """Radiance RGBE (.hdr) through imagecodecs: linear float RGB."""
    import imagecodecs

    return _Raw(samples=np.asarray(imagecodecs.rgbe_decode(data), dtype=np.float32), layout="RGB", mode="RGBE",
                bit_depth=32, sample_type="float")


def _read_exr(path: Path, data: bytes) -> _Raw:
    """OpenEXR through the OpenEXR package (the format's reference library): the first part's R, G, B[, A]
    or Y[, A] channels; EXR alpha is premultiplied (associated) by the format's convention."""
    try:
        import OpenEXR
    except ImportError:
        raise _Refusal(f"EXR needs the OpenEXR package: {EXR_EXTRA}") from None
    with OpenEXR.File(str(path), separate_channels=True) as exr:
        parts = exr.parts
        header = exr.header()
        channels = {name: np.asarray(channel.pixels) for name, channel in exr.channels().items()}
    _warn_frames(path, len(parts), "parts")
    data_window = [np.asarray(v).tolist() for v in header.get("dataWindow", ())]
    display_window = [np.asarray(v).tolist() for v in header.get("displayWindow", ())]
    if data_window != display_window:
        raise _Refusal(f"EXR data window {data_window} differs from its display window {display_window} "
                       "(not supported)")
    names = sorted(channels)
    if {"R", "G", "B"} <= set(channels):
        used = ["R", "G", "B"]
    elif "Y" in channels and not {"RY", "BY"} & set(channels):
        used = ["Y"]
    else:
        raise _Refusal(f"EXR channels {', '.join(names)}; aire reads R, G, B[, A] or Y[, A]")
    if "A" in channels:
        used.append("A")
    ignored = [n for n in names if n not in used]
    if ignored:
        warnings.warn(f"{path.name}: EXR channels {', '.join(ignored)} ignored", stacklevel=3)
    for name in used:
        if not np.issubdtype(channels[name].dtype, np.floating):
            raise _Refusal(f"EXR channel {name} holds {channels[name].dtype}, not colour")
    samples = np.stack([channels[n].astype(np.float32) for n in used], axis=-1)
    depth = max(channels[n].dtype.itemsize * 8 for n in used)
    layout = ("RGB" if used[0] == "R" else "L") + ("A" if "A" in used else "")
    return _Raw(samples=samples, layout=layout, mode="".join(used), bit_depth=depth, sample_type="float",
                premultiplied="A" in used)


_READERS = {
    "PNG": _read_png, "TIFF": _read_tiff, "NPY": _read_npy, "HDR": _read_hdr, "EXR": _read_exr,
    "JPEG": lambda p, d: _read_pillow(p, d, "JPEG"), "BMP": lambda p, d: _read_pillow(p, d, "BMP"),
    "GIF": lambda p, d: _read_pillow(p, d, "GIF"), "WEBP": lambda p, d: _read_pillow(p, d, "WEBP"),
}


def composite_on_white(image: DecodedImage) -> tuple[np.ndarray, float]:
    """Colour (H, W, C) over a white background, colour * alpha + (1 - alpha), and the fraction of pixels
    that are not fully opaque (0 when there is no alpha)."""
    if image.alpha is None:
        return image.colour, 0.0
    translucent = float(np.mean(image.alpha[:, :, 0] < 1.0))
    if translucent == 0.0:
        return image.colour, 0.0
    return image.colour * image.alpha + (1.0 - image.alpha), translucent
