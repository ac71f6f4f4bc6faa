"""Out-of-fold calibration of clip verdicts: groups of people from clip names, whole groups per fold, and a band
with width where real and fake scores overlap."""

from __future__ import annotations

import numpy as np

from model.store import ModelInfo
from train.calibration import calibrate_video
from train.folds import fold_of, out_of_fold, people_of, person_groups


def test_clips_that_share_a_person_share_a_group():
    names = ["youtube_033.mp4", "Deepfakes_033_097.mp4", "youtube_097.mp4", "youtube_252.mp4", "Face2Face_252_266.mp4",
             "youtube_266.mp4", "youtube_500.mp4", "DeepFakeDetection_01_11__talking__X.mp4",
             "DeepFakeDetection_11_13__walking__Y.mp4", "DeepFakeDetection_20_21__z__Q.mp4"]
    assert people_of(names[1]) == {"033", "097"} and people_of(names[7]) == {"dfd01", "dfd11"}
    groups = person_groups(names)
    assert groups[0] == groups[1] == groups[2] and groups[3] == groups[4] == groups[5]
    assert groups[7] == groups[8] != groups[9]
    assert len({groups[0], groups[3], groups[6], groups[7], groups[9]}) == 5


def test_every_group_is_held_out_once_and_scored_by_a_head_that_never_saw_it():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 4)
    labels = np.tile([0, 1, 1, 1], 12)
    folds = fold_of(groups, labels, 4, seed=1)
    for group in range(12):
        assert len(set(folds[groups == group])) == 1  # a group stays whole
    seen_by: dict[int, set[int]] = {}

    def score_fold(fit_on, held_out):
        for index in held_out:
            seen_by[index] = set(groups[fit_on])
        return rng.random(len(held_out))

    scores = out_of_fold(score_fold, folds)
    assert not np.isnan(scores).any()
    assert all(groups[index] not in seen for index, seen in seen_by.items())


def test_the_out_of_fold_band_has_width_where_scores_overlap_and_calls_few_real_clips_fake():
    rng = np.random.default_rng(3)
    labels = np.asarray([0] * 60 + [1] * 90)
    video = np.clip(np.where(labels == 1, rng.normal(0.65, 0.18, 150), rng.normal(0.35, 0.18, 150)), 0.01, 0.99)
    per_frame = np.clip(video[:, None] + rng.normal(0, 0.1, (150, 20)), 0.01, 0.99)
    stored = calibrate_video(ModelInfo(kind="video", architecture="test"), labels.tolist(), video, per_frame,
                             max_real_called_fake=0.10)
    assert stored.real_below < stored.fake_from  # an uncertain band
    shares = stored.validation_calibration
    assert shares["real_called_fake"] <= 0.10 and 0.0 < shares["uncertain"]


def test_a_frame_mean_clip_score_is_calibrated_on_the_mean_of_the_calibrated_frames():
    """``clip_score="frame_mean"``: the clip score is the mean of the per-frame probabilities after their own calibration (as
    ``VideoModel`` scores a ``frame_mean`` model), and the clip calibration is fitted on that mean."""
    from train.calibration import CLIP_CALIBRATION_STRENGTH
    from train.metrics import fit_calibration

    rng = np.random.default_rng(5)
    labels = np.asarray([0] * 40 + [1] * 40)
    per_frame = np.clip(np.where(labels[:, None] == 1, 0.7, 0.4) + rng.normal(0, 0.2, (80, 10)), 0.01, 0.99)
    record = ModelInfo(kind="video", architecture="test", clip_score="frame_mean")
    stored = calibrate_video(record, labels.tolist(), np.zeros(len(labels)), per_frame)  # the BiLSTM's: unused
    clip = stored.frame_calibration(per_frame).mean(axis=1)
    assert stored.calibration == fit_calibration(labels, clip, CLIP_CALIBRATION_STRENGTH)
    assert stored.calibration != fit_calibration(labels, per_frame.mean(axis=1), CLIP_CALIBRATION_STRENGTH)
