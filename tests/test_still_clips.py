"""Real clips made from still photos (``train.still_clips``): a pan over each split's own real photos, decoded
back by the serving video reader, the example clip's pan reproduced."""

from __future__ import annotations

import numpy as np

from model.video import open_clip
from train.still_clips import CLIP_FPS, CLIP_SECONDS, CLIP_SIDE, Pan, make_clips, pan_frames
from tests.conftest import write_rgb


def test_each_split_gets_pans_over_its_own_real_photos_only(tmp_path, astronaut):
    photos = tmp_path / "photos"
    for split in ("Train", "Validation"):
        write_rgb(photos / split / "Real" / f"{split.lower()}_face.jpg", astronaut)
    write_rgb(photos / "Train" / "Fake" / "generated.jpg", astronaut)
    write_rgb(photos / "Train" / "Real" / "thumbnail.jpg", astronaut[::4, ::4])  # too small to pan over

    counts = make_clips([photos], tmp_path / "clips", per_split=5, seed=0)

    assert counts == {"Train": 1, "Validation": 1, "Test": 0}
    assert sorted(p.relative_to(tmp_path / "clips").as_posix() for p in (tmp_path / "clips").rglob("*.webm")) == [
        "Train/Real/still_photos_train_face.webm", "Validation/Real/still_photos_validation_face.webm"]
    clip = open_clip(tmp_path / "clips" / "Train" / "Real" / "still_photos_train_face.webm")
    frames = list(clip.frames(CLIP_FPS * CLIP_SECONDS))
    assert len(frames) == CLIP_FPS * CLIP_SECONDS and frames[0].rgb.shape == (CLIP_SIDE, CLIP_SIDE, 3)
    assert not np.array_equal(frames[0].rgb, frames[-1].rgb)  # it moves


def test_a_pan_zooms_from_its_first_to_its_last_window(astronaut):
    frames = pan_frames(astronaut, Pan(1.0, 0.5, (256.0, 256.0), (256.0, 256.0)), seconds=1, fps=3, side=64)
    assert len(frames) == 3 and frames[0].shape == (64, 64, 3)
    whole = frames[0].astype(int)
    centre = frames[-1].astype(int)
    assert np.abs(whole - centre).mean() > 5  # the last frame is the middle half, enlarged
