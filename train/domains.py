"""Training data from several domains: which folders, how much each counts, and their faces as serving cuts them.

A *domain* is one Real/Fake folder (with Train/Validation/Test splits, or one folder split by ``--val-split``), a
sampling weight, and optionally a cap on its files per class and split and a ``people`` mark (its real faces are
photos of people, and bound the verdict thresholds). A domain with a ``Real/`` folder only is *real-only*: its
fakes are self-blends of its own reals (``train.self_blend``), made in training beside the real they come from,
and made once (seeded) and cached for its Validation and Test splits.

Every picture becomes a face crop through the serving face path (``model.face_path``: MTCNN's largest face, ``cut``
with the face recipe, then ``cap`` at its crop ceiling as the model takes it), whatever its size: there is no "crop as given". The crop is cached
once as a PNG beside a JSON record of where it came from (source file, its size, the face box and MTCNN's five
points in crop fractions, for face-shaped blending masks and the shortcut audit); pictures without a face are
recorded as such and left out. A face cache of ``train.extract_faces`` (``.npz`` face sequences of video clips,
cut by serving's video face path) gives every face of each clip, written out once as PNGs.

Domains are given as repeated ``--data PATH[:WEIGHT]``, in a spec file (``--data-spec``; one ``PATH [WEIGHT]``
per line, ``#`` comments, paths relative to the file) or as ``[[data]]`` tables of a ``--config`` file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model.face_recipe import FaceRecipe
from model.imaging import IMAGE_EXTENSIONS
from train.config import VALIDATION_PER_CLASS
from train.data import RECORD_SUFFIX, Labelled, holds_files, load_splits, read_record, stored_recipe

if TYPE_CHECKING:  # the face path imports TensorFlow: a cutter is built where faces are cut
    from model.face_path import FaceCutter

SEQUENCE_SUFFIX = ".npz"
LARGE_SIDE = 400  # pictures longer than this are the portraits and press photos people bring; counted apart
PICTURE = "faces cut from pictures"
LARGE_PICTURE = f"faces cut from pictures over {LARGE_SIDE} px"
CLIP = "faces of clips"
SELF_BLENDED = "self-blends of the reals"


@dataclass(frozen=True)
class Domain:
    """A Real/Fake folder, its share of the training batches, at most ``limit_per_class`` files per class and split
    (None: all), whether its real faces are photos of people (``people``: they bound the thresholds), and whether
    only its real pictures are used (``real_only``: its fakes come from another source; self-blends of the reals
    take their place)."""

    path: Path
    weight: float = 1.0
    name: str = ""
    limit_per_class: int | None = None
    people: bool = False
    real_only: bool = False

    @property
    def label(self) -> str:
        return self.name or self.path.name


@dataclass
class DomainSplit:
    """One split of one domain as face-crop files; ``origin[i]`` says how file ``i`` became a crop."""

    domain: Domain
    data: Labelled
    origin: list[str] = field(default_factory=list)

    def subsets(self) -> dict[str, Labelled]:
        """The split's files grouped by origin, when it holds more than one kind (crops as given and found faces)."""
        kinds = sorted(set(self.origin))
        if len(kinds) < 2:
            return {}
        return {kind: Labelled([p for p, o in zip(self.data.paths, self.origin) if o == kind],
                               [y for y, o in zip(self.data.labels, self.origin) if o == kind]) for kind in kinds}


def parse_domain(text: str, base: Path | None = None) -> Domain:
    """``PATH`` or ``PATH:WEIGHT`` (a weight is a positive number after the last colon)."""
    path, weight = text, 1.0
    head, sep, tail = text.rpartition(":")
    if sep and head:
        try:
            path, weight = head, float(tail)
        except ValueError:
            path, weight = text, 1.0
    if weight <= 0:
        raise ValueError(f"domain weight must be positive: {text}")
    resolved = Path(path).expanduser()
    if base is not None and not resolved.is_absolute():
        resolved = base / resolved
    return Domain(resolved, weight)


def read_spec(spec: str | Path) -> list[Domain]:
    """Domains listed in a spec file: ``PATH [WEIGHT]`` per line, ``#`` starts a comment."""
    spec = Path(spec)
    if not spec.is_file():
        raise FileNotFoundError(f"data spec not found: {spec}")
    domains = []
    for number, line in enumerate(spec.read_text().splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) > 2:
            raise ValueError(f"{spec}:{number}: expected PATH [WEIGHT], got {line.strip()!r}")
        domains.append(parse_domain(":".join(words), spec.parent))
    if not domains:
        raise ValueError(f"{spec} lists no data folder")
    return domains


def domain_from_table(table: dict[str, Any]) -> Domain:
    """A ``[[data]]`` table of a config file: ``path`` and optionally ``weight``, ``name``, ``limit_per_class``,
    ``people``, ``real_only``."""
    unknown = set(table) - {"path", "weight", "name", "limit_per_class", "people", "real_only"}
    if "path" not in table or unknown:
        raise ValueError("a [[data]] table needs a path and takes weight, name, limit_per_class, people, real_only: "
                         f"{table}")
    path = Path(table["path"]).expanduser()
    weight = float(table.get("weight", 1.0))
    if weight <= 0:
        raise ValueError(f"domain weight must be positive: {table}")
    return Domain(path, weight, table.get("name", ""), table.get("limit_per_class"), bool(table.get("people", False)),
                  bool(table.get("real_only", False)))


def domains_from_args(data: list[str] | None, spec: str | None, tables: tuple[dict[str, Any], ...] = ()
                      ) -> list[Domain]:
    """The domains of ``--data`` (repeated), ``--data-spec`` and a config's ``[[data]]`` tables, with unique
    names."""
    domains = ([parse_domain(text) for text in data or []] + (read_spec(spec) if spec else [])
               + [domain_from_table(table) for table in tables])
    if not domains:
        raise ValueError("give at least one --data folder or a --data-spec file")
    seen: dict[str, int] = {}
    named = []
    for domain in domains:
        count = seen[domain.label] = seen.get(domain.label, 0) + 1
        named.append(replace(domain, name=domain.label if count == 1 else f"{domain.label}#{count}"))
    return named


def _cache_key(path: Path, recipe_key: str) -> str:
    """The cache name of a source file: its path, size and modification time and a face recipe's key."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{recipe_key}"
    return hashlib.sha1(key.encode()).hexdigest()[:20]


def write_png(path: Path, rgb: np.ndarray) -> None:
    """An RGB crop as a PNG, written whole or not at all."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.png")
    cv2.imwrite(str(partial), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    partial.replace(path)


class FaceCropper:
    """Turns domain files into face-crop files cut by serving's ``FaceCutter`` of ``recipe``, cached under
    ``cache_dir``: a picture's face is found and cut once per recipe's ``cut_key`` (uncapped, in ``faces/``), and
    capped at the recipe's ceiling from that crop by the cutter (``capped-N/``), as serving caps it."""

    def __init__(self, cache_dir: str | Path, recipe: FaceRecipe, quiet: bool = False) -> None:
        self.cache_dir = Path(cache_dir)
        self.recipe = recipe
        self.quiet = quiet

    @cached_property
    def cutter(self) -> FaceCutter:
        """The face cutter of ``recipe``, built on first use."""
        from model.face_path import FaceCutter

        return FaceCutter(self.recipe)

    def target(self, path: Path) -> Path:
        """Where the uncapped crop of a picture is cached."""
        key = _cache_key(path, self.recipe.cut_key())
        return self.cache_dir / "faces" / key[:2] / f"{key}.png"

    def cut_picture(self, path: Path) -> Path | None:
        """The crop of the largest face of a picture as the recipe cuts it (cut now when not cached); None without
        a face."""
        uncapped = self._uncapped(path)
        ceiling = self.recipe.crop_ceiling
        if uncapped is None or not ceiling:
            return uncapped
        target = self.cache_dir / f"capped-{ceiling}" / uncapped.parent.name / uncapped.name
        if not target.exists():
            import cv2

            crop = cv2.cvtColor(cv2.imread(str(uncapped)), cv2.COLOR_BGR2RGB)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.with_suffix(RECORD_SUFFIX).write_text(uncapped.with_suffix(RECORD_SUFFIX).read_text())
            write_png(target, self.cutter.cap(crop))
        return target

    def _uncapped(self, path: Path) -> Path | None:
        """The cached uncapped crop of a picture's largest face, found and cut now when not cached."""
        target = self.target(path)
        if target.exists():
            return target
        record = target.with_suffix(RECORD_SUFFIX)
        if record.exists():  # recorded as faceless
            return None
        from model.imaging import InputError, decode_image, read_bytes

        try:
            data = read_bytes(path)
            rgb = decode_image(data)
        except InputError:
            found, rgb, data = [], None, b""
        else:
            found = self.cutter.faces(rgb)
        details: dict[str, Any] = {"source": str(path)}
        if found:
            face, crop = found[0]
            height, width = rgb.shape[:2]
            left, top, cut_side, _ = self.cutter.square(face.box, rgb.shape)
            details.update(width=width, height=height, bytes=len(data), box=list(face.box), score=face.score,
                           cut_side=cut_side,
                           landmarks=[[(x - left) / cut_side, (y - top) / cut_side] for x, y in face.landmarks])
            write_png(target, crop)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(details))
        return target if found else None

    def _sequence_faces(self, path: Path) -> list[str]:
        """Every face of a cached clip, written once as PNGs."""
        folder = self.cache_dir / "sequences" / _cache_key(path, self.recipe.key())
        done = folder / "done"
        if not done.exists():
            with np.load(path) as stored:
                self.recipe.require_cut(stored_recipe(stored), str(path))
                for index, face in enumerate(stored["faces"]):
                    write_png(folder / f"{index:04d}.png", face)
            done.touch()
        return sorted(str(p) for p in folder.glob("*.png"))

    def self_blends(self, reals: list[str], seed: int) -> list[str]:
        """One self-blended fake of each real crop, made once with a seed of its own and cached (the fakes of a
        real-only domain's Validation and Test)."""
        from PIL import Image

        from train.self_blend import self_blend

        made = []
        for real in reals:
            key = hashlib.sha1(f"{real}|{seed}".encode()).hexdigest()[:20]
            target = self.cache_dir / "self-blends" / key[:2] / f"{key}.png"
            if not target.exists():
                rng = np.random.default_rng(int(key[:8], 16))
                with Image.open(real) as image:
                    face = np.asarray(image.convert("RGB"))
                write_png(target, self_blend(face, rng, read_record(real).get("landmarks"))[0])
                target.with_suffix(RECORD_SUFFIX).write_text(json.dumps({**read_record(real), "self_blend_of": real}))
            made.append(str(target))
        return made

    def crops(self, data: Labelled, what: str = "") -> tuple[Labelled, list[str]]:
        """Face-crop files for ``data`` and the origin of each; files where no face is found are left out."""
        from tqdm import tqdm

        paths, labels, origin, missed = [], [], [], 0
        todo = list(zip(data.paths, data.labels))
        for raw, label in tqdm(todo, desc=f"faces {what}".strip(), unit="file", file=sys.stderr,
                               disable=self.quiet or len(todo) < 500, mininterval=10):
            path = Path(raw)
            if path.suffix.lower() == SEQUENCE_SUFFIX:
                faces = self._sequence_faces(path)
                paths += faces
                labels += [label] * len(faces)
                origin += [CLIP] * len(faces)
                continue
            crop = self.cut_picture(path)
            if crop is None:
                missed += 1
                continue
            paths.append(str(crop))
            labels.append(label)
            record = read_record(crop)
            origin.append(LARGE_PICTURE if max(record["width"], record["height"]) > LARGE_SIDE else PICTURE)
        if missed:
            print(f"{what}: no face found in {missed} of {len(todo)} pictures; they are left out", file=sys.stderr)
        return Labelled(paths, labels), origin


def load_domains(domains: list[Domain], cropper: FaceCropper, val_split: float = 0.2, seed: int = 0,
                 limit_per_class: int | None = None, splits: tuple[str, ...] | None = None,
                 split_limits: dict[str, int] | None = None) -> dict[str, list[DomainSplit]]:
    """Split name -> every domain's face crops in that split (a domain without the split is left out of it). A
    real-only domain's Validation and Test get one cached self-blend of each real as their fakes; in Train its
    fakes are made as it trains."""
    found: dict[str, list[DomainSplit]] = {}
    extensions = IMAGE_EXTENSIONS | {SEQUENCE_SUFFIX}
    for domain in domains:
        if limit_per_class and not domain.limit_per_class:
            domain = replace(domain, limit_per_class=limit_per_class)
        for split, data in listed(domain, split_limits or {}, val_split, seed, extensions).items():
            if splits is not None and split not in splits:
                continue
            crops, origin = cropper.crops(data, f"{domain.label} {split}")
            if 0 not in crops.labels:
                raise ValueError(f"{domain.path} {split}: no real faces")
            if 1 not in crops.labels and split != "train":
                blends = cropper.self_blends(crops.paths, seed)
                crops = Labelled(crops.paths + blends, crops.labels + [1] * len(blends))
                origin = origin + [SELF_BLENDED] * len(blends)
            found.setdefault(split, []).append(DomainSplit(domain, crops, origin))
    return found


def drawn(parts: list[DomainSplit], limit_per_class: int | None = None, seed: int = 0) -> dict[str, Labelled]:
    """Each domain's files, its classes capped at ``limit_per_class`` (a balanced, quick validation set where one
    domain is much larger than another), drawn in domain order from one random stream."""
    rng = np.random.default_rng(seed)
    found = {}
    for part in parts:
        paths, labels = [], []
        for label in (0, 1):
            files = [p for p, y in zip(part.data.paths, part.data.labels) if y == label]
            if limit_per_class is not None and len(files) > limit_per_class:
                files = sorted(rng.choice(files, limit_per_class, replace=False).tolist())
            paths += files
            labels += [label] * len(files)
        found[part.domain.label] = Labelled(paths, labels)
    return found


def people_names(domains: list[Domain]) -> set[str]:
    """The names of the domains marked ``people`` (their real faces are photos of people: they bound the band)."""
    return {domain.label for domain in domains if domain.people}


def pooled(domains: dict[str, Labelled]) -> Labelled:
    """The files of every domain (as ``drawn`` gives them) in one list."""
    return Labelled([p for d in domains.values() for p in d.paths], [y for d in domains.values() for y in d.labels])


def _cut_worker(job: tuple[str, dict[str, Any], list[str]]) -> int:
    """Cut a share of the pictures into the cache (a worker process of ``cache_faces``); how many had a face."""
    cache_dir, recipe, paths = job
    cropper = FaceCropper(cache_dir, FaceRecipe(**recipe), quiet=True)
    return sum(cropper.cut_picture(Path(path)) is not None for path in paths)


def listed(domain: Domain, split_limits: dict[str, int], val_split: float = 0.2, seed: int = 0,
           extensions: frozenset[str] = IMAGE_EXTENSIONS) -> dict[str, Labelled]:
    """A domain's files per split, at most its ``limit_per_class`` per class, and at most ``split_limits[split]``
    in the splits named there (a quick Validation draw need not cut the whole split)."""
    from train.data import limited

    found = load_splits(domain.path, val_split, seed, extensions, domain.limit_per_class, real_only=True)
    if domain.real_only:
        found = {split: Labelled([p for p, y in zip(data.paths, data.labels) if y == 0], [0] * data.counts()["real"])
                 for split, data in found.items()}
    return {split: limited(data, split_limits[split], seed) if split in split_limits else data
            for split, data in found.items()}


def cache_faces(domains: list[Domain], cache_dir: str | Path, workers: int, split_limits: dict[str, int],
                splits: tuple[str, ...], recipe: FaceRecipe, seed: int = 0) -> None:
    """Cut every picture of the domains' ``splits`` into the face cache ahead of training or evaluation, in
    ``workers`` processes (each runs its own MTCNN); the trainer then finds every face cached."""
    import multiprocessing

    from tqdm import tqdm

    pictures = [path for domain in domains if holds_files(domain.path, IMAGE_EXTENSIONS)
                for split, data in listed(domain, split_limits, seed=seed).items() if split in splits
                for path in data.paths]
    cropper = FaceCropper(cache_dir, recipe)
    todo = [p for p in pictures if not cropper.target(Path(p)).with_suffix(RECORD_SUFFIX).exists()]
    print(f"{len(pictures)} pictures, {len(todo)} to cut with {workers} workers", file=sys.stderr)
    chunks = [todo[start:start + 50] for start in range(0, len(todo), 50)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        jobs = [(str(cache_dir), recipe.to_json(), chunk) for chunk in chunks]
        found = sum(tqdm(pool.imap_unordered(_cut_worker, jobs), total=len(jobs), unit="50 files",
                         file=sys.stderr, mininterval=10))
    print(f"faces found in {found} of {len(todo)} pictures", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    import argparse

    from model.face_recipe import FaceRecipe
    from train.config import TrainingError, read_config_file
    from train.flags import image_parser

    parser = argparse.ArgumentParser(prog="python -m train.domains",
                                     description="Cut the faces of every domain into the face cache ahead of "
                                     "training (several processes), as the trainer would cut them.")
    parser.add_argument("--config", default=None, help="a recipe file (its [[data]] tables and face_cache)")
    parser.add_argument("--data", action="append", default=None, metavar="PATH[:WEIGHT]")
    parser.add_argument("--face-cache", default=None, help="default: the config's face_cache, else runs/face-cache")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--splits", default="train,validation", help="comma-separated (default: train,validation)")
    parser.add_argument("--test-per-class", type=int, default=None, help="cut at most this many Test files per class")
    parser.add_argument("--val-per-class", type=int, default=None,
                        help="cut at most this many Validation files per class (default: the config's, else "
                        f"{VALIDATION_PER_CLASS})")
    args = parser.parse_args(argv)
    flags, tables = {}, ()
    try:
        if args.config:
            flags, tables = read_config_file(args.config, image_parser())
        domains = domains_from_args(args.data, None, tables)
    except (TrainingError, ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    limits = {"validation": args.val_per_class or flags.get("val_per_class", VALIDATION_PER_CLASS)}
    if args.test_per_class:
        limits["test"] = args.test_per_class
    cache_faces(domains, args.face_cache or flags.get("face_cache", "runs/face-cache"), args.workers, limits,
                tuple(args.splits.split(",")), FaceRecipe(), seed=flags.get("seed", 1337))


if __name__ == "__main__":
    main()
