"""Reading user images: every odd file gets either pixels or a one-line human reason."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from model.imaging import InputError, read_image
from tests.conftest import write_rgb


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
            + chunk(b"IEND", b""))


def test_color_photo_reads_as_rgb(tmp_path, astronaut):
    path = write_rgb(tmp_path / "a.png", astronaut)
    assert np.array_equal(read_image(path), astronaut)


@pytest.mark.parametrize("conversion", [cv2.COLOR_RGB2GRAY, cv2.COLOR_RGB2BGRA])
def test_grayscale_and_rgba_become_rgb(tmp_path, astronaut, conversion):
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, conversion))
    image = read_image(path)
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path, astronaut):
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    image = read_image(path)
    assert image.dtype == np.uint8
    assert np.abs(image.astype(int) - astronaut.astype(int)).max() <= 1


@pytest.mark.parametrize("content, reason", [
    (b"", "empty"),
    (b"hello, not an image", "not a readable image"),
    (_png_claiming(30000, 30000), "too large"),
])
def test_bad_files_get_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=reason):
        read_image(path)


def _bmp_claiming(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40, 0, 0, 14 + 40) + info + b"\0" * 64


@pytest.mark.parametrize("content, message", [
    (_png_claiming(12000, 6000), "the image is too large (12000×6000 pixels; limit 50 megapixels)"),  # our check
    (_png_claiming(30000, 30000), "the image is too large (30000×30000 pixels; limit 50 megapixels)"),  # Pillow's
    (_bmp_claiming(20000, 20000), "the image is too large (400 megapixels; limit 50 megapixels)"),
])
def test_too_large_pictures_are_refused_in_one_wording(tmp_path, content, message):
    """Whether our limit or Pillow's decompression-bomb check (over twice ours) refuses it, one wording."""
    path = tmp_path / "huge.img"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_image(path)
    assert str(caught.value) == message


def test_truncated_png_is_reported(tmp_path, astronaut):
    whole = tmp_path / "whole.png"
    write_rgb(whole, astronaut)
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[:5000])
    with pytest.raises(InputError, match="corrupt or truncated"):
        read_image(cut)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(InputError, match="cannot open"):
        read_image(tmp_path / "nope.jpg")


def test_damaged_pictures_that_still_decode_are_named_and_held_at_uncertain(astronaut):
    """A JPEG with flipped bytes in its data decodes (the decoder guesses the damaged part), is flagged with a
    reason, and its verdict stays uncertain; intact files are not flagged."""
    import io

    from PIL import Image

    from model.calibration import Thresholds
    from model.imaging import damage, decode_image
    from model.report import Report

    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, format="JPEG", quality=90)
    jpeg = bytearray(buffer.getvalue())
    buffer = io.BytesIO()
    Image.fromarray(astronaut[:64, :64]).save(buffer, format="PNG")
    png = bytearray(buffer.getvalue())
    assert damage(bytes(jpeg)) is None and damage(bytes(png)) is None
    for position in np.random.default_rng(0).integers(1000, len(jpeg) - 100, 10):
        jpeg[position] ^= 0x5A
    assert decode_image(bytes(jpeg)).shape == astronaut.shape
    assert damage(bytes(jpeg)).startswith("its JPEG data are corrupt (")
    report = Report(path="x.jpg", kind="image", fake_probability=0.99, thresholds=Thresholds(0.3, 0.6),
                    damaged=damage(bytes(jpeg)))
    assert report.verdict == "uncertain" and report.to_json()["damaged"].startswith("its JPEG data are corrupt")


def test_a_clip_named_like_a_picture_a_large_text_chunk_and_float_samples(tmp_path, astronaut):
    """Each gets what it is: a clip is said to be a video; a PNG whose text chunk is over Pillow's limit still
    decodes from its pixels; a floating-point TIFF is not black."""
    import io

    from PIL import Image, PngImagePlugin

    from model.imaging import InputError, decode_image

    with pytest.raises(InputError, match="video file named like a picture"):
        decode_image(b"\x1a\x45\xdf\xa3" + bytes(200))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x" * (PngImagePlugin.MAX_TEXT_CHUNK + 10))
    buffer = io.BytesIO()
    Image.fromarray(astronaut[:64, :64]).save(buffer, format="PNG", pnginfo=info)
    assert np.array_equal(decode_image(buffer.getvalue()), astronaut[:64, :64])
    grey = cv2.cvtColor(astronaut[:64, :64], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    buffer = io.BytesIO()
    Image.fromarray(grey, mode="F").save(buffer, format="TIFF")
    decoded = decode_image(buffer.getvalue())
    assert decoded.shape == (64, 64, 3) and abs(float(decoded[..., 0].mean()) - grey.mean() * 255) < 3
