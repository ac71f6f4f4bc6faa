"""Read user images safely: check the header before decoding, turn any depth or channel count into RGB uint8."""

from __future__ import annotations

import io
import re
import os
import stat
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 50_000_000
MAX_FILE_BYTES = 100 * 1024 * 1024
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class InputError(ValueError):
    """A user's file cannot be analysed; the message is one short human sentence."""


def too_large(kind: str, limit: int, size: tuple[int, int] | None = None, pixels: int | None = None,
              unit: str = "") -> str:
    """The one wording of "too large" for pictures and video frames: their size (width×height, else the pixel
    count alone) and the limit."""
    measured = f"{size[0]}×{size[1]} pixels" if size else f"{(pixels or 0) / 10**6:.0f} megapixels"
    return f"the {kind} is too large ({measured}{unit}; limit {limit / 10**6:.0f} megapixels{unit})"


def _bomb_pixels(error: Exception) -> int | None:
    """The pixel count in Pillow's decompression-bomb message ("Image size (N pixels) exceeds limit ...")."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    return int(found.group(1)) if found else None


def regular_file_size(path: Path) -> int:
    """The size of a regular file, checked without opening it: a folder, pipe (FIFO), socket or device is refused
    with a sentence (opening a pipe would wait forever)."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise InputError(f"cannot open file: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError("this is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError("not a regular file (a pipe, socket or device)")
    return info.st_size


def read_bytes(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a whole file, refusing empty files and files over ``limit`` bytes."""
    path = Path(path)
    size = regular_file_size(path)
    if size == 0:
        raise InputError("the file is empty")
    if size > limit:
        raise InputError(f"the file is too large ({size / 2**20:.0f} MB; limit {limit / 2**20:.0f} MB)")
    return path.read_bytes()


VIDEO_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (8, b"AVI "))  # MP4/MOV, WebM/MKV, AVI


def looks_like_video(data: bytes) -> bool:
    """Whether the bytes start like a video container (a clip named like a picture)."""
    return any(data[offset:offset + len(magic)] == magic for offset, magic in VIDEO_SIGNATURES)


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's header chunk, read by hand (for PNGs whose text chunks Pillow refuses)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    return None


def decode_image(data: bytes) -> np.ndarray:
    """Decode image bytes into an RGB uint8 array, checking the pixel count before any large allocation."""
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except Image.DecompressionBombError as error:  # over twice the limit: Pillow refuses before we see the size
        raise InputError(too_large("image", MAX_PIXELS, _png_size(data), _bomb_pixels(error))) from None
    except (UnidentifiedImageError, OSError, ValueError):
        if looks_like_video(data):
            raise InputError("this is a video file named like a picture: analyse it as a video") from None
        size = _png_size(data)  # e.g. a text chunk over Pillow's limit: the pixels may be fine
        if size is None:
            raise InputError("not a readable image file") from None
        width, height = size
    if width * height > MAX_PIXELS:
        raise InputError(too_large("image", MAX_PIXELS, (width, height)))
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return _decode_with_pillow(data)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _decode_with_pillow(data: bytes) -> np.ndarray:
    """Fallback decoder for formats OpenCV lacks (GIF, some TIFF); 16-bit modes are scaled to 8 bits."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):
                array = np.asarray(image, dtype=np.float32) / 257.0
                return np.repeat(np.clip(array, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
            if image.mode == "F":  # floating-point samples: 0–1 as most writers mean them, else stretched
                array = np.nan_to_num(np.asarray(image, dtype=np.float32))
                peak = float(array.max()) if array.size else 1.0
                array = array * (255.0 if peak <= 1.0 else 255.0 / peak)
                return np.repeat(np.clip(array, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError):
        raise InputError("the image is corrupt or truncated") from None


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file into RGB uint8 (H, W, 3); raises ``InputError`` with a human reason."""
    return decode_image(read_bytes(path))


def damage(data: bytes) -> str | None:
    """Why a picture that decoded is nonetheless damaged (a few words), or None: JPEG data that libjpeg-turbo calls
    corrupt (``simplejpeg`` in strict mode turns the warnings that OpenCV only prints into errors). The decoder
    fills damaged parts with guesses, so a verdict on such a file is weak evidence. (PNGs with failing checksums and
    truncated JPEGs do not decode at all: they are refused as unreadable.)"""
    if data.startswith(b"\xff\xd8"):
        import simplejpeg

        try:
            simplejpeg.decode_jpeg(data, strict=True)
        except ValueError as error:
            if str(error).startswith(("Corrupt JPEG data", "Premature end")):
                return "its JPEG data are corrupt (" + str(error).split(":", 1)[-1].strip().rstrip(".") + ")"
    return None


# The IJG (libjpeg) base luminance quantization table, row by row (the order Pillow reports tables in).
_IJG_LUMINANCE = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57,
                           69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64,
                           81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
                          np.float64)


def jpeg_quality(path: str | Path) -> int | None:
    """The JPEG quality (1–100, IJG scale) a file was last saved with, estimated from its luminance quantization
    table; None for other formats or unreadable files."""
    try:
        with Image.open(path) as image:
            tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
    except (OSError, ValueError):
        return None
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    scale = float(np.mean(np.asarray(tables[0], np.float64) * 100.0 / _IJG_LUMINANCE))
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return int(np.clip(round(quality), 1, 100))
