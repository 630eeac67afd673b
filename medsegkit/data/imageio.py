"""Reading images and label maps with one-line errors that name the file and what was expected."""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from medsegkit.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _open(path: Path, reduce: tuple[int, int] | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded image and its full ``(H, W)``; with ``reduce`` ``(side, short)``, a JPEG is decoded at the
    smallest DCT scale (1/2, 1/4, 1/8: ``Image.draft``) that keeps its longer side at least ``side`` and
    its shorter side at least ``short`` pixels."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
            w, h = im.size
            if reduce is not None and im.format == "JPEG":
                scale = max(reduce[0] / max(w, h), reduce[1] / min(w, h))
                if scale < 1:
                    im.draft("RGB", (math.ceil(w * scale), math.ceil(h * scale)))
            im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: cannot read image ({exc}); expected a complete PNG/JPEG/BMP/TIFF file") from exc
    return im, (h, w)


def read_rgb(path: Path) -> np.ndarray:
    """Read an image as ``(H, W, 3)`` uint8 RGB (grey and 16-bit images are converted)."""
    return _rgb(_open(path)[0])


def read_rgb_reduced(path: Path, side: int, short: int) -> tuple[np.ndarray, tuple[int, int]]:
    """``(image, (H, W))``: the image as :func:`read_rgb` gives it, but a JPEG decoded at a reduced size
    whose longer side is still at least ``side`` and shorter side at least ``short`` pixels, and the
    image's full size. For the verbs that only look at an image at a working size and draw an overlay
    of at most ``side`` pixels while writing masks at full size: a 12-megapixel JPEG decodes in a third
    of the time at 1/4 scale, and DCT scaling averages the pixels it drops (no aliasing)."""
    im, size = _open(path, (side, short))
    return _rgb(im), size


def _rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        hi = a.max() or 1.0
        im = Image.fromarray((a / hi * 255).round().astype(np.uint8))
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def read_gray(path: Path) -> np.ndarray:
    """Read a single-channel map as ``(H, W)`` uint8.

    1-bit images give {0, 255}; RGB(A) images must have equal colour channels (a grey map saved as
    colour), otherwise the file is rejected.
    """
    im = _open(path)[0]
    if im.mode == "1":
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if im.mode in ("RGB", "RGBA"):
        a = np.asarray(im.convert("RGB"), dtype=np.uint8)
        if not (np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 0], a[..., 2])):
            raise DataError(f"{path}: expected a grey label map, got a colour image with differing channels")
        return a[..., 0].copy()
    if im.mode == "P":
        return np.asarray(im, dtype=np.uint8)
    if im.mode != "L":
        raise DataError(f"{path}: expected an 8-bit grey label map, got image mode {im.mode}")
    return np.asarray(im, dtype=np.uint8)


def map_values(raw: np.ndarray, mapping: Mapping[int, int], path: Path) -> np.ndarray:
    """Map raw mask values to canonical labels; any value outside ``mapping`` is an error naming it."""
    present = np.unique(raw)
    unknown = [int(v) for v in present if int(v) not in mapping]
    if unknown:
        expected = ", ".join(str(k) for k in sorted(mapping))
        shown = ", ".join(str(v) for v in unknown[:8]) + (", ..." if len(unknown) > 8 else "")
        raise DataError(f"{path}: mask value(s) {shown} not in the expected values {{{expected}}}")
    lut = np.zeros(256, dtype=np.uint8)
    for k, v in mapping.items():
        lut[k] = v
    return lut[raw]


def check_same_size(image: np.ndarray, mask: np.ndarray, image_path: Path, mask_path: Path) -> None:
    if image.shape[:2] != mask.shape[:2]:
        ih, iw = image.shape[:2]
        mh, mw = mask.shape[:2]
        raise DataError(
            f"{mask_path}: mask is {mw}x{mh} but its image {image_path.name} is {iw}x{ih}; expected equal sizes"
        )


def png_bytes(array: np.ndarray) -> bytes:
    """Encode a ``(H, W)`` or ``(H, W, 3)`` uint8 array as PNG (deterministic bytes).

    zlib level 1: a 600x450 mask takes 1.2 ms instead of 1.6 ms at Pillow's default 6 (HAM10000 outputs,
    this 2-core CPU). Overlays are JPEG (:func:`medsegkit.engine.overlays.overlay_bytes`)."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_labels(path: Path) -> np.ndarray:
    """Read an integer label map (8- or 16-bit grey, palette or 1-bit PNG) as ``(H, W)`` int32."""
    im = _open(path)[0]
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(im).astype(np.int32)
    return read_gray(path).astype(np.int32)
