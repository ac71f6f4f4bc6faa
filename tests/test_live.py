"""The live camera mode's rolling verdict: a window of recent frames, judged with the image model's thresholds."""

from __future__ import annotations

import pytest

from model.calibration import Thresholds
from model.live import LiveScorer, RollingVerdict

THRESHOLDS = Thresholds(real_below=0.4, fake_from=0.6)


def test_window_forgets_old_frames_and_skips_faceless_ones():
    rolling = RollingVerdict(window_s=3.0)
    for time_s, probability in [(0.0, 0.9), (1.0, 0.9), (2.0, None), (3.5, 0.1), (4.0, 0.5)]:
        rolling.add(time_s, probability)
    assert rolling.frames == 5 and rolling.probabilities == [0.9, 0.1, 0.5]  # 0.0 fell out of the window
    assert rolling.fake_probability == pytest.approx(0.5) and rolling.verdict(THRESHOLDS) == "uncertain"
    rolling.add(8.0, None)
    assert rolling.fake_probability is None and rolling.verdict(THRESHOLDS) == "no_face"


@pytest.mark.parametrize(("probabilities", "verdict"), [([0.1, 0.3], "real"), ([0.7, 0.9], "fake")])
def test_verdict_words_match_the_thresholds(probabilities, verdict):
    rolling = RollingVerdict()
    for index, probability in enumerate(probabilities):
        rolling.add(index * 0.25, probability)
    assert rolling.verdict(THRESHOLDS) == verdict


def test_scorer_scores_camera_frames_into_one_session(astronaut, small_image_model):
    from ui.wording import live_markdown
    from model.image_detector import FaceScorer, ImageDetector

    live = LiveScorer(ImageDetector(FaceScorer(small_image_model)))
    report, rolling = live.step(astronaut, None, now=0.0)
    report, same = live.step(astronaut[:, ::-1].copy(), rolling, now=0.3)
    assert same is rolling and rolling.frames == 2 and len(rolling.probabilities) == 2
    assert len(report.faces) == 1 and report.provenance is None  # camera frames are not files
    text = live_markdown(rolling, report, live.thresholds)
    assert "over the 2 camera frames with a face" in text and "Frames scored this session: 2" in text
