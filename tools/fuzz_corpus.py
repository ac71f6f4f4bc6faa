"""A seeded corpus of hostile and damaged inputs for the scan and the app: byte-flipped, truncated, spliced and
re-labelled copies of real pictures and a clip, and crafted files (lying headers, oversized metadata, wrong
extensions). ``tests/test_fuzz.py`` scans a few hundred of them; ``bench/bench_fuzz.py`` a larger corpus.

    python tools/fuzz_corpus.py OUT_DIR [--count 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import struct
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, PngImagePlugin

XMP_SHAPES = (b"<x " + b"a" * 60_000, b"<" + b"x." * 30_000, b"<a:DigitalSourceType b='" * 2_500,
              b"CreatorTool=" * 5_000)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims ``width`` × ``height`` pixels, with no pixel data behind it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def seeds(photo: np.ndarray) -> dict[str, bytes]:
    """Valid files to mutate: the photo as JPEG, PNG, WebP, GIF and TIFF, and a short MJPEG clip."""
    small = cv2.resize(photo, (256, 256))
    found = {}
    for suffix, options in ((".jpg", {"quality": 90}), (".png", {}), (".webp", {}), (".gif", {}), (".tif", {})):
        buffer = io.BytesIO()
        Image.fromarray(small).save(buffer, format=Image.registered_extensions()[suffix], **options)
        found[suffix] = buffer.getvalue()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 128))
        for shift in range(8):
            writer.write(cv2.cvtColor(np.roll(cv2.resize(photo, (128, 128)), shift * 4, axis=1), cv2.COLOR_RGB2BGR))
        writer.release()
        found[".avi"] = path.read_bytes()
    return found


def crafted(photo: np.ndarray) -> dict[str, bytes]:
    """Files made to hurt: lying headers, metadata bombs, a clip named as a picture, zero bytes, text."""
    buffer = io.BytesIO()
    Image.fromarray(cv2.resize(photo, (256, 256))).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    files = {"empty.jpg": b"", "text.png": b"not a picture at all\n" * 10, "claims_30000.png": _png_claiming(30000, 30000),
             "claims_zero.png": _png_claiming(0, 0), "zeros.mp4": bytes(4096),
             "fake_ftyp.mp4": b"\x00\x00\x00\x18ftypmp42" + bytes(500)}
    for index, packet in enumerate(XMP_SHAPES):
        out = io.BytesIO()
        Image.open(io.BytesIO(jpeg)).save(out, format="JPEG", xmp=packet)
        files[f"xmp_{index}.jpg"] = out.getvalue()
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", (packet * 17)[:1_000_000].decode("latin-1"))
        out = io.BytesIO()
        Image.fromarray(cv2.resize(photo, (64, 64))).save(out, format="PNG", pnginfo=info)
        files[f"xmp_{index}.png"] = out.getvalue()
    files["clip_named.jpg"] = seeds(photo)[".avi"]
    files["jpeg_named.mp4"] = jpeg
    return files


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random damage: flipped bytes, a cut, a repeated or removed slice, or random bytes spliced in."""
    data = bytearray(data)
    kind = rng.integers(5)
    if kind == 0:
        for position in rng.integers(0, len(data), rng.choice([1, 10, 100])):
            data[position] ^= int(rng.integers(1, 256))
    elif kind == 1:
        data = data[:int(rng.integers(1, len(data)))]
    elif kind == 2:
        start = int(rng.integers(0, len(data) - 1))
        end = min(len(data), start + int(rng.integers(1, 4096)))
        data[start:start] = data[start:end] * int(rng.integers(1, 4))
    elif kind == 3:
        start = int(rng.integers(0, len(data) - 1))
        del data[start:start + int(rng.integers(1, 2048))]
    else:
        start = int(rng.integers(0, len(data)))
        data[start:start] = rng.integers(0, 256, int(rng.integers(1, 512)), dtype=np.uint8).tobytes()
    return bytes(data)


def write_corpus(out: str | Path, count: int = 300, seed: int = 0) -> list[Path]:
    """``count`` mutated files and every crafted one under ``out``; returns their paths."""
    from skimage import data as samples

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    photo = samples.astronaut()
    rng = np.random.default_rng(seed)
    written = []
    for name, blob in crafted(photo).items():
        (out / name).write_bytes(blob)
        written.append(out / name)
    originals = seeds(photo)
    suffixes = sorted(originals)
    for index in range(count):
        suffix = suffixes[index % len(suffixes)]
        path = out / f"mutated_{index:04d}{suffix}"
        path.write_bytes(mutate(originals[suffix], rng))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{len(write_corpus(args.out, args.count, args.seed))} files written to {args.out}")


if __name__ == "__main__":
    main()
