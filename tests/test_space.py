"""The README's front matter is a Space configuration the Hugging Face Hub accepts (its documented limits), and it
names the Gradio version and app file this repository pins and holds."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HUB_COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
HUB_SDKS = {"gradio", "docker", "static"}
SHORT_DESCRIPTION_MAX = 60


def front_matter() -> dict[str, str]:
    match = re.match(r"---\n(.*?)\n---\n", (ROOT / "README.md").read_text(), re.S)
    assert match, "README.md starts with no front matter"
    fields = {}
    for line in match.group(1).splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip().strip('"')
    return fields


def test_front_matter_fits_the_hubs_limits():
    config = front_matter()
    assert 0 < len(config["short_description"]) <= SHORT_DESCRIPTION_MAX, config["short_description"]
    assert config["sdk"] in HUB_SDKS
    assert {config["colorFrom"], config["colorTo"]} <= HUB_COLOURS
    assert len(config["emoji"]) <= 2 and config["title"]
    assert re.fullmatch(r"3\.\d+", config["python_version"])


def test_front_matter_matches_the_repository():
    config = front_matter()
    assert (ROOT / config["app_file"]).is_file()
    pinned = re.search(r"^gradio==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert config["sdk_version"] == pinned


@pytest.mark.skipif(shutil.which("git-lfs") is None, reason="git-lfs is not installed")
def test_the_space_repository_is_one_commit_with_every_binary_file_in_lfs(tmp_path):
    """What ``tools/make_space.py`` writes is what the Hub accepts: one commit (no history of plain model
    blobs), no binary file and no file over 10 MB left a plain blob, the README's front matter and the models."""
    from tools.make_space import MAX_PLAIN_BYTES, make_space

    out = tmp_path / "space"
    in_lfs = make_space(out)
    assert {"model/weights/image_model.keras", "model/weights/video_model.keras"} <= set(in_lfs)
    git = lambda *args: subprocess.run(["git", *args], cwd=out, capture_output=True, text=True, check=True).stdout
    assert len(git("rev-list", "--all").split()) == 1
    for line in git("ls-tree", "-r", "-l", "HEAD").splitlines():
        meta, name = line.split("\t")
        blob, size = meta.split()[2], int(meta.split()[3])
        if name in in_lfs:
            assert git("cat-file", "-p", blob).startswith("version https://git-lfs.github.com/spec/v1")
            continue
        content = subprocess.run(["git", "cat-file", "-p", blob], cwd=out, capture_output=True, check=True).stdout
        assert size <= MAX_PLAIN_BYTES and b"\0" not in content[:8000], name
    committed = subprocess.run(["git", "show", "HEAD:README.md"], cwd=ROOT, capture_output=True, text=True).stdout
    assert (out / "README.md").read_text() == committed and not git("status", "--porcelain")
    with pytest.raises(Exception, match="not empty"):
        make_space(out)


@pytest.mark.skipif(shutil.which("git-lfs") is None, reason="git-lfs is not installed")
def test_a_clone_stays_clean_with_git_lfs_installed(tmp_path):
    """With git-lfs's filters on for every repository (as Debian's package sets them), a fresh clone shows no
    change: this repository keeps model files as plain blobs and asks no file of its tree into LFS (the Space that
    ``tools/make_space.py`` makes puts them there)."""
    config = tmp_path / "gitconfig"
    env = {"GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path),
           "PATH": os.environ["PATH"]}
    run = lambda *args, cwd=tmp_path: subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True,
                                                     text=True, check=True).stdout
    run("lfs", "install", "--skip-repo")
    assert '[filter "lfs"]' in config.read_text()
    run("clone", "-q", "--no-local", str(ROOT), "clone")
    assert run("status", "--porcelain", cwd=tmp_path / "clone") == ""
    assert not (tmp_path / "clone" / ".gitattributes").exists()
