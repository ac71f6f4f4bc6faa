"""The README's front matter is a Space configuration the Hugging Face Hub accepts (its documented limits), and it
names the Gradio version and app file this repository pins and holds."""

from __future__ import annotations

import re
from pathlib import Path

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
