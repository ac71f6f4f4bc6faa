"""Calibration fitted on Validation: Platt scaling and the ``real`` / ``uncertain`` / ``fake`` thresholds of
face models and of video models (clip and per-frame), with Brier and ECE before and after, into a model's record.
The trainers call it at the end of training; ``train.evaluate --calibrate`` refits it on a saved model."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from model.calibration import Calibration, Thresholds
from model.store import ModelInfo
from train.config import MAX_PEOPLE_CALLED_FAKE, MAX_UNCERTAIN
from train.data import Labelled
from train.domains import pooled
from train.metrics import (brier_score, choose_threshold, choose_thresholds, expected_calibration_error,
                           fit_calibration, verdict_shares)
from train.scoring import Network, raw_scores

CLIP_CALIBRATION_STRENGTH = 1.0  # Validation holds ~20 clips: a perfect split of them is no proof


def for_people(thresholds: Thresholds, people: np.ndarray, max_called_fake: float) -> Thresholds:
    """``thresholds`` with the fake threshold raised (never lowered) until at most ``max_called_fake`` of the
    ``people`` scores (calibrated probabilities of real photos of people) reach it: calling a real person fake is
    the costly error. The real threshold stays, so the faces in between are uncertain."""
    if len(people) == 0:
        return thresholds
    above = np.sort(people)[::-1]
    allowed = int(np.floor(max_called_fake * len(people)))
    bound = float(np.nextafter(above[allowed], np.inf)) if allowed < len(above) else thresholds.fake_from
    return Thresholds(thresholds.real_below, min(max(thresholds.fake_from, bound), 1.0))


def within_uncertain(thresholds: Thresholds, scores: np.ndarray, max_uncertain: float) -> Thresholds:
    """``thresholds`` with the real threshold raised (never lowered, never past the fake threshold) until at most
    ``max_uncertain`` of the ``scores`` (one domain's calibrated probabilities) fall between the two: a verdict that
    is mostly "uncertain" answers nobody. The faces it moves are called real: of the two errors a face in the band
    risks, a fake called real is the lesser (a real person called fake is the costly one)."""
    inside = np.sort(scores[(scores >= thresholds.real_below) & (scores < thresholds.fake_from)])
    excess = len(inside) - int(np.floor(max_uncertain * len(scores)))
    if excess <= 0:
        return thresholds
    bound = float(np.nextafter(inside[excess - 1], np.inf))
    return Thresholds(min(bound, thresholds.fake_from), thresholds.fake_from)


def calibrate_video(record: ModelInfo, labels: list[int], video: np.ndarray, per_frame: np.ndarray,
                    max_real_called_fake: float | None = None, unseen: np.ndarray | None = None) -> ModelInfo:
    """``record`` with the Platt scaling of the clip and the per-frame probabilities and the clip's ``real`` /
    ``uncertain`` / ``fake`` band, fitted on held-out clips (their raw ``predict_videos`` scores, or out-of-fold
    ones) for the clip score ``record.clip_score`` names (the BiLSTM's ``video``, or the mean of the calibrated
    per-frame probabilities, as ``VideoModel`` scores it), with Brier and ECE before and after;
    ``max_real_called_fake`` raises the fake threshold until at most that share of the real clips is called fake,
    and of the ``unseen`` ones (a mask: clips whose faces the encoder never trained on, whose real clips score
    higher than the others' out of fold) on their own too."""
    labels, frame_y = np.asarray(labels), np.repeat(labels, per_frame.shape[1])
    frame_calibration = fit_calibration(frame_y, per_frame.reshape(-1), CLIP_CALIBRATION_STRENGTH)
    if record.clip_score == "frame_mean":
        video = frame_calibration.frame_mean(per_frame)
    clip_calibration = fit_calibration(labels, video, CLIP_CALIBRATION_STRENGTH)
    calibrated = clip_calibration(video)
    thresholds = choose_thresholds(labels, calibrated)
    if max_real_called_fake is not None:
        thresholds = for_people(thresholds, calibrated[labels == 0], max_real_called_fake)
        if unseen is not None:
            thresholds = for_people(thresholds, calibrated[(labels == 0) & unseen], max_real_called_fake)
    return replace(record, calibration=clip_calibration, real_below=thresholds.real_below,
                   fake_from=thresholds.fake_from, frame_calibration=frame_calibration,
                   frame_threshold=choose_threshold(frame_y, frame_calibration(per_frame.reshape(-1))),
                   validation_calibration={"clips": len(labels),
                                           **calibration_summary(labels, video, calibrated, thresholds)})


def calibrate_video_as_encoder(record: ModelInfo, encoder: ModelInfo, labels: list[int], per_frame: np.ndarray
                               ) -> ModelInfo:
    """``record``, judging a clip by the mean of its frames' probabilities, with its encoder's calibration and
    band: each frame calibrated as the encoder (a calibrated image model) calibrates a face, the clip at that
    model's ``real`` / ``uncertain`` / ``fake`` thresholds. Those were fitted on Validation faces the encoder never
    trained on; clips of the data set it trained on, out of fold or not, score its real faces too low to place a
    band for clips it never saw. Brier, ECE and verdict shares on ``labels``' clips are kept for reading."""
    labels = np.asarray(labels)
    clip = encoder.calibration.frame_mean(per_frame)
    return replace(record, calibration=Calibration(), real_below=encoder.real_below, fake_from=encoder.fake_from,
                   frame_calibration=encoder.calibration, frame_threshold=encoder.fake_from,
                   validation_calibration={"clips": len(labels), "source": "the encoder's",
                                           **calibration_summary(labels, per_frame.mean(axis=1), clip,
                                                                 encoder.thresholds)})


def calibration_summary(labels: np.ndarray, raw: np.ndarray, calibrated: np.ndarray, thresholds: Thresholds
                        ) -> dict[str, Any]:
    """Brier score and expected calibration error before and after calibrating, and the verdict shares."""
    return {"brier_before": brier_score(labels, raw), "brier_after": brier_score(labels, calibrated),
            "ece_before": expected_calibration_error(labels, raw),
            "ece_after": expected_calibration_error(labels, calibrated),
            **verdict_shares(labels, calibrated, thresholds)}


def calibrate(record: ModelInfo, networks: Sequence[Network], domains: dict[str, Labelled],
              people: Collection[str] = (), batch_size: int = 64,
              max_people_called_fake: float = MAX_PEOPLE_CALLED_FAKE, max_uncertain: float = MAX_UNCERTAIN
              ) -> ModelInfo:
    """``record`` with the Platt scaling and the two verdict thresholds fitted on the Validation faces of ``domains``
    pooled, each face scored as the record scores it (``networks``: its own network and its members', loaded by
    ``face_networks``, each over its views), with Brier and ECE before and after. Then the fake threshold is raised
    until the real faces of each domain named in ``people`` (photos of people) are called fake at most
    ``max_people_called_fake`` of the time (``for_people``), and the real threshold until each domain leaves at most
    ``max_uncertain`` of its faces uncertain (``within_uncertain``)."""
    validation = pooled(domains)
    labels = np.asarray(validation.labels)
    raw = raw_scores(networks, validation, batch_size)
    calibration = fit_calibration(labels, raw)
    calibrated = calibration(raw)
    balanced = choose_thresholds(labels, calibrated, max_uncertain=max_uncertain)
    ends = np.cumsum([len(data.paths) for data in domains.values()])[:-1]  # ``pooled`` joins them in this order
    scores = dict(zip(domains, np.split(calibrated, ends)))
    classes = dict(zip(domains, np.split(labels, ends)))
    reals = {name: scores[name][classes[name] == 0] for name in domains if name in people}
    thresholds = balanced
    for name in reals:
        thresholds = for_people(thresholds, reals[name], max_people_called_fake)
    for name in domains:
        thresholds = within_uncertain(thresholds, scores[name], max_uncertain)
    per_domain = {name: {"faces": len(scores[name]), **verdict_shares(classes[name], scores[name], thresholds)}
                  for name in domains}
    extra = {"max_people_called_fake": max_people_called_fake, "max_uncertain": max_uncertain,
             "fake_from_before_people": balanced.fake_from, "real_below_before_uncertain_cap": balanced.real_below,
             "people": sorted(reals), "domains": per_domain}
    return replace(record, calibration=calibration, real_below=thresholds.real_below, fake_from=thresholds.fake_from,
                   validation_calibration={"faces": len(labels), **extra,
                                           **calibration_summary(labels, raw, calibrated, thresholds)})
