"""Fakes given the picture history of real photos: a Real/Fake folder in which the generator is what differs.

A set of generated faces and a set of real photos differ before any pixel is generated: picture size, JPEG
quality, framing, sharpness (``photos``: 256-px generated portraits saved at quality 92, the face 70 % of the
picture, against CelebA's 178×218 crops at 75). This command pairs each fake picture with a real one of the same
split drawn at random from another folder (UTKFace's 200-px photos for the generated portraits) and gives the fake
that real's history: its face placed and sized in the picture as the real's face is (the serving face path finds
both), the real's picture size, no more sharpness than the real's face has (shrunk and restored until it is no
sharper), the real's JPEG quality. The real is linked beside it. Both then reach the face cutter alike::

    python -m train.matched_fakes --fakes ../extra-data/photos --reals ../extra-data/utkface \\
        --out ../extra-data/generated-vs-utkface

The output has the fakes folder's splits, ``Real/`` (links to the drawn reals) and ``Fake/`` (the re-saved fakes),
and ``history.json`` naming, for every fake, its source and the real whose history it was given.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.face_path import FaceCutter
from model.face_recipe import FaceRecipe
from train.data import load_splits

DEFAULT_QUALITY = 95  # a real saved without JPEG (PNG) gives its fakes nearly lossless JPEG
SOFTENING = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)  # shrink-and-restore factors tried until a fake is no sharper

Box = tuple[float, float, float, float]  # x, y, width, height in pixels


@dataclass(frozen=True)
class History:
    """What a real picture went through before it reached us: its size, JPEG quality (None: not a JPEG), where its
    face lies (the face box in fractions of the width and height) and how sharp that face is."""

    width: int
    height: int
    quality: int | None
    face: Box
    sharpness: float

    @classmethod
    def of(cls, path: str | Path, cutter: FaceCutter) -> History | None:
        """The history of a real picture (None where the serving face path finds no face in it)."""
        from model.imaging import decode_image, jpeg_quality, read_bytes

        rgb = decode_image(read_bytes(path))
        found = cutter.faces(rgb)
        if not found:
            return None
        height, width = rgb.shape[:2]
        x, y, w, h = found[0][0].box
        return cls(width, height, jpeg_quality(path), (x / width, y / height, w / width, h / height),
                   sharpness(rgb, found[0][0].box))


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """The variance of the Laplacian of a face box, seen at 128 px (the audit's sharpness measure)."""
    import cv2

    from train.audit import laplacian_variance

    x, y, w, h = (max(0, round(v)) for v in box)
    grey = cv2.cvtColor(rgb[y:y + h, x:x + w], cv2.COLOR_RGB2GRAY)
    return laplacian_variance(cv2.resize(grey, (128, 128), interpolation=cv2.INTER_AREA))


def framed(rgb: np.ndarray, face: Box, history: History) -> tuple[np.ndarray, Box]:
    """The part of ``rgb`` in which its ``face`` (pixels) lies where the real's face lies in the real, at the
    real's aspect (padded by reflection where it reaches past the picture), and the face's box in it."""
    import cv2

    x, y, w, h = face
    fx, fy, fw, fh = history.face
    scale = max(w / fw, h / fh)  # the window's width, in the fake's pixels, per unit of the real's width
    window_w, window_h = scale, scale * history.height / history.width
    left, top = x + w / 2 - (fx + fw / 2) * window_w, y + h / 2 - (fy + fh / 2) * window_h
    pad = round(max(0.0, -left, -top, left + window_w - rgb.shape[1], top + window_h - rgb.shape[0])) + 1
    padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    l, t = round(left) + pad, round(top) + pad
    window = padded[t:t + round(window_h), l:l + round(window_w)]
    return window, (x + pad - l, y + pad - t, w, h)


def with_history(rgb: np.ndarray, face: Box, history: History) -> bytes:
    """A fake picture given a real's history: framed as the real is framed, resized to its size, shrunk and
    restored until its face, once encoded as JPEG at the real's quality, is no sharper than the real's face: the
    bytes of that JPEG file."""
    import cv2

    from train.audit import jpeg_round_trip

    window, box = framed(rgb, face, history)
    size = (history.width, history.height)
    ratio = history.width / window.shape[1]
    resized = cv2.resize(window, size, interpolation=cv2.INTER_AREA if ratio < 1 else cv2.INTER_CUBIC)
    box = tuple(v * ratio for v in box)
    quality = history.quality or DEFAULT_QUALITY
    for factor in SOFTENING:
        small = cv2.resize(resized, (max(1, round(size[0] * factor)), max(1, round(size[1] * factor))),
                           interpolation=cv2.INTER_AREA)
        softened = cv2.resize(small, size, interpolation=cv2.INTER_LINEAR) if factor < 1 else resized
        data, decoded = jpeg_round_trip(softened, quality)
        if sharpness(decoded, box) <= history.sharpness:
            break
    return data


def match_split(fakes: list[str], reals: list[str], out: Path, rng: np.random.Generator,
                cutter: FaceCutter) -> list[dict[str, str]]:
    """Save each fake with a face into ``out/Fake`` with the history of a real with a face drawn for it (each
    real once while they last), link the drawn reals into ``out/Real``; the pairs, as ``history.json`` records
    them."""
    from tqdm import tqdm

    from model.imaging import InputError, decode_image, read_bytes

    (out / "Fake").mkdir(parents=True, exist_ok=True)
    (out / "Real").mkdir(parents=True, exist_ok=True)
    order = itertools.cycle(rng.permutation(len(reals)))
    distinct_reals = len({Path(real).resolve() for real in reals})
    histories: dict[Path, History | None] = {}
    pairs = []
    for fake in tqdm(fakes, desc=out.name, unit="fake", file=sys.stderr, mininterval=10):
        try:
            rgb = decode_image(read_bytes(fake))
        except InputError as error:
            print(f"skipped {fake}: {error}", file=sys.stderr)
            continue
        found = cutter.faces(rgb)
        if not found:
            continue
        history = None
        while history is None:
            real = Path(reals[next(order)]).resolve()
            if real not in histories:
                histories[real] = History.of(real, cutter)
            history = histories[real]
            if history is None and len(histories) == distinct_reals and not any(histories.values()):
                raise ValueError(f"no face found in any of the {len(reals)} real pictures")
        target = out / "Fake" / f"{Path(fake).stem}.jpg"
        target.write_bytes(with_history(rgb, found[0][0].box, history))
        link = out / "Real" / real.name
        if not link.is_symlink():
            link.symlink_to(real)
        pairs.append({"fake": str(Path(fake).resolve()), "saved": str(target), "history_of": str(real)})
    return pairs


def build(fakes_root: Path, reals_root: Path, out: Path, seed: int = 0, limit: int | None = None) -> dict[str, int]:
    """The matched folder for every split the fakes folder has (and the reals folder too), at most ``limit``
    fakes a split (None: all); how many fakes each split got."""
    real_splits = load_splits(reals_root, seed=seed, real_only=True)
    rng = np.random.default_rng(seed)
    cutter = FaceCutter(FaceRecipe())
    records = {}
    for split, data in load_splits(fakes_root, seed=seed, real_only=True).items():
        if split not in real_splits:
            print(f"{reals_root} has no {split} split: the {split} fakes are left out", file=sys.stderr)
            continue
        fakes = [p for p, y in zip(data.paths, data.labels) if y == 1]
        reals = [p for p, y in zip(real_splits[split].paths, real_splits[split].labels) if y == 0]
        if not fakes or not reals:
            raise FileNotFoundError(f"{split}: {len(fakes)} fakes under {fakes_root}, {len(reals)} reals under "
                                    f"{reals_root}: both are needed")
        drawn = fakes if limit is None or len(fakes) <= limit else sorted(rng.choice(fakes, limit, replace=False))
        records[split] = match_split(list(drawn), reals, out / split.capitalize(), rng, cutter)
    (out / "history.json").write_text(json.dumps({"fakes": str(fakes_root.resolve()), "reals": str(reals_root.resolve()),
                                                  "seed": seed, "pairs": records}, indent=1))
    return {split: len(pairs) for split, pairs in records.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.matched_fakes", description=__doc__.splitlines()[0],
                                     epilog="\n".join(__doc__.splitlines()[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fakes", required=True, type=Path, help="a Real/Fake folder with splits: its Fake pictures")
    parser.add_argument("--reals", required=True, type=Path,
                        help="a Real/Fake folder with the same splits: its Real pictures give their size and quality")
    parser.add_argument("--out", required=True, type=Path, help="the new folder (outside the repository)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="at most this many fakes a split (default: all)")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty: choose a new folder")
    try:
        counts = build(args.fakes, args.reals, args.out, args.seed, args.limit)
    except FileNotFoundError as error:
        parser.error(str(error))
    print(", ".join(f"{split}: {count} fakes" for split, count in counts.items()), f"-> {args.out}")


if __name__ == "__main__":
    main()
