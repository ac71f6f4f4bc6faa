"""Training data from several domains: which folders, how much each counts, and their faces as serving sees them.

A *domain* is one Real/Fake folder (with Train/Validation/Test splits, or one folder split by ``--val-split``)
and a sampling weight. Its files become face crops the way serving cuts them:

* pictures that already are face crops (at most ``CROP_MAX_SIDE`` pixels on their long side) are used as they are;
* larger pictures (portraits, generated 1024-px faces) go once through the serving face path (MTCNN's largest
  face, ``crop_face``, ``resize_faces``) and the crop is cached as a PNG; pictures without a face are left out;
* a face cache of ``train.extract_faces`` (``.npz`` face sequences of video clips) gives every face of each clip,
  written out once as PNGs.

Domains are given as repeated ``--data PATH[:WEIGHT]`` or in a spec file (``--data-spec``; one ``PATH [WEIGHT]``
per line, ``#`` comments, paths relative to the file).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from model.face_recipe import FACE_RECIPE
from model.imaging import IMAGE_EXTENSIONS
from model.preprocessing import IMAGE_SIZE
from train.data import Labelled, load_splits

CROP_MAX_SIDE = 400
SEQUENCE_SUFFIX = ".npz"
DETECTED = "faces found in large pictures"
AS_GIVEN = "crops as given"


@dataclass(frozen=True)
class Domain:
    """A Real/Fake folder and its share of the training batches."""

    path: Path
    weight: float = 1.0
    name: str = ""

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


def domains_from_args(data: list[str] | None, spec: str | None) -> list[Domain]:
    """The domains of ``--data`` (repeated) and ``--data-spec``, with unique names."""
    domains = [parse_domain(text) for text in data or []] + (read_spec(spec) if spec else [])
    if not domains:
        raise ValueError("give at least one --data folder or a --data-spec file")
    seen: dict[str, int] = {}
    named = []
    for domain in domains:
        count = seen[domain.label] = seen.get(domain.label, 0) + 1
        named.append(Domain(domain.path, domain.weight, domain.label if count == 1 else f"{domain.label}#{count}"))
    return named


def _cache_name(path: Path, suffix: str = "") -> str:
    """The cache file name of a source file: its path, size and modification time and today's face recipe."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{FACE_RECIPE.key()}{suffix}"
    return hashlib.sha1(key.encode()).hexdigest()[:20] + ".png"


def _long_side(path: str) -> int:
    try:
        with Image.open(path) as image:
            return max(image.size)
    except OSError:
        return 0


class FaceCropper:
    """Turns domain files into face-crop files, caching what the face path found under ``cache_dir``."""

    def __init__(self, cache_dir: str | Path, image_size: int = IMAGE_SIZE, quiet: bool = False) -> None:
        self.cache_dir = Path(cache_dir)
        self.image_size = image_size
        self.quiet = quiet
        self._detector = None

    def _detect_and_cache(self, path: Path, target: Path) -> bool:
        """Cut the largest face of ``path`` as serving does and cache it; False when there is none."""
        import cv2

        from model.face_path import cut_faces, face_detector
        from model.imaging import InputError, read_image
        from model.preprocessing import resize_faces

        self._detector = self._detector or face_detector()
        try:
            rgb = read_image(path)
        except InputError:
            return False
        found = cut_faces(self._detector, rgb)
        if not found:
            return False
        crop = np.asarray(resize_faces(found[0][1], self.image_size), np.uint8)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.stem + ".partial.png")
        cv2.imwrite(str(partial), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        partial.replace(target)
        return True

    def _sequence_faces(self, path: Path) -> list[str]:
        """Every face of a cached clip, written once as PNGs."""
        import cv2

        folder = self.cache_dir / "sequences" / _cache_name(path).removesuffix(".png")
        done = folder / "done"
        if not done.exists():
            folder.mkdir(parents=True, exist_ok=True)
            with np.load(path) as stored:
                for index, face in enumerate(stored["faces"]):
                    cv2.imwrite(str(folder / f"{index:04d}.png"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
            done.touch()
        return sorted(str(p) for p in folder.glob("*.png"))

    def crops(self, data: Labelled, what: str = "") -> tuple[Labelled, list[str]]:
        """Face-crop files for ``data`` and the origin of each; files where no face is found are left out."""
        from tqdm import tqdm

        paths, labels, origin, missed = [], [], [], 0
        todo = list(zip(data.paths, data.labels))
        for raw, label in tqdm(todo, desc=f"faces {what}".strip(), unit="file", file=sys.stderr,
                               disable=self.quiet or len(todo) < 500, mininterval=5):
            path = Path(raw)
            if path.suffix.lower() == SEQUENCE_SUFFIX:
                faces = self._sequence_faces(path)
                paths += faces
                labels += [label] * len(faces)
                origin += [AS_GIVEN] * len(faces)
                continue
            if _long_side(raw) <= CROP_MAX_SIDE:
                paths.append(raw)
                labels.append(label)
                origin.append(AS_GIVEN)
                continue
            target = self.cache_dir / "faces" / _cache_name(path, f"|{self.image_size}")
            if target.exists() or self._detect_and_cache(path, target):
                paths.append(str(target))
                labels.append(label)
                origin.append(DETECTED)
            else:
                missed += 1
        if missed:
            print(f"{what}: no face found in {missed} of {len(todo)} pictures; they are left out", file=sys.stderr)
        return Labelled(paths, labels), origin


def load_domains(domains: list[Domain], cropper: FaceCropper, val_split: float = 0.2, seed: int = 0,
                 limit_per_class: int | None = None, splits: tuple[str, ...] | None = None
                 ) -> dict[str, list[DomainSplit]]:
    """Split name -> every domain's face crops in that split (a domain without the split is left out of it)."""
    found: dict[str, list[DomainSplit]] = {}
    extensions = IMAGE_EXTENSIONS | {SEQUENCE_SUFFIX}
    for domain in domains:
        for split, data in load_splits(domain.path, val_split, seed, extensions, limit_per_class).items():
            if splits is not None and split not in splits:
                continue
            crops, origin = cropper.crops(data, f"{domain.label} {split}")
            if len(set(crops.labels)) < 2:
                raise ValueError(f"{domain.path} {split}: no faces left in one class")
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


def pooled(domains: dict[str, Labelled]) -> Labelled:
    """The files of every domain (as ``drawn`` gives them) in one list."""
    return Labelled([p for d in domains.values() for p in d.paths], [y for d in domains.values() for y in d.labels])
