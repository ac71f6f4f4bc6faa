"""Make the Hugging Face Space repository: the committed tree as one fresh commit, binary and large files in LFS.

    python tools/make_space.py ../space            # then:
    git -C ../space push --force https://huggingface.co/spaces/USER/NAME main

The Hub refuses a push that holds binary files, or files over 10 MB, as plain git blobs anywhere in its history,
and this repository's history holds model files as plain blobs. So the Space is not pushed from here: this
exports the tree of a commit (``--ref``, default HEAD; uncommitted changes are left out), starts a new repository
in OUT with that tree as its only commit, and puts every binary file (git's test: a NUL byte in its first 8000
bytes) and every file over 10 MB into Git LFS, then checks that none is left a plain blob. Needs git-lfs.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_PLAIN_BYTES = 10 * 1024 * 1024
BINARY_PROBE_BYTES = 8000


class SpaceError(RuntimeError):
    """The Space repository cannot be made; the message says why."""


def git(*args: str, cwd: Path) -> str:
    """Run git in ``cwd``; a failure becomes a ``SpaceError`` with git's own message."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SpaceError(f"git {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def needs_lfs(path: Path) -> bool:
    """Whether the Hub would refuse ``path`` as a plain blob: binary, or over 10 MB."""
    if path.stat().st_size > MAX_PLAIN_BYTES:
        return True
    with path.open("rb") as handle:
        return b"\0" in handle.read(BINARY_PROBE_BYTES)


def export_tree(source: Path, ref: str, out: Path) -> list[Path]:
    """The files of ``ref`` in ``source``, written under ``out``; returns their paths relative to ``out``."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=source, capture_output=True)
    if archive.returncode != 0:
        raise SpaceError(f"git archive {ref}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        members = [member for member in tar.getmembers() if member.isfile()]
        tar.extractall(out, members=members, filter="data")
    return sorted(Path(member.name) for member in members)


def make_space(out: Path, source: Path = ROOT, ref: str = "HEAD") -> list[str]:
    """Write the Space repository into ``out`` (which must not exist or be empty); returns the files in LFS."""
    if shutil.which("git-lfs") is None:
        raise SpaceError("git-lfs is not installed (e.g. apt-get install git-lfs): the Hub needs it for the "
                         "model files")
    if out.exists() and any(out.iterdir()):
        raise SpaceError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    commit = git("rev-parse", "--short", ref, cwd=source).strip()
    files = export_tree(source, ref, out)
    git("init", "-q", "-b", "main", cwd=out)
    git("lfs", "install", "--local", cwd=out)
    heavy = [str(path) for path in files if needs_lfs(out / path)]
    if heavy:
        git("lfs", "track", "--filename", *heavy, cwd=out)
    git("add", "-A", cwd=out)
    git("-c", "user.name=make_space", "-c", "user.email=make_space@localhost", "commit", "-q", "-m",
        f"Space from {commit}", cwd=out)
    in_lfs = set(git("lfs", "ls-files", "--name-only", cwd=out).splitlines())
    plain = sorted(set(heavy) - in_lfs)
    if plain:
        raise SpaceError(f"still plain blobs, which the Hub refuses: {', '.join(plain)}")
    return sorted(in_lfs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/make_space.py", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("out", type=Path, help="a new (or empty) folder for the Space repository")
    parser.add_argument("--ref", default="HEAD", help="the commit whose tree becomes the Space (default HEAD)")
    args = parser.parse_args(argv)
    try:
        in_lfs = make_space(args.out, ROOT, args.ref)
    except SpaceError as error:
        parser.error(str(error))
    print(f"{args.out}: one commit, {len(in_lfs)} files in LFS ({', '.join(in_lfs)})", file=sys.stderr)
    print(f"push it with: git -C {args.out} push --force https://huggingface.co/spaces/USER/NAME main",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
