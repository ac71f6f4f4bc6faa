"""The video path end to end on real little clips: sampling, faces, tracks, both models, and what goes wrong."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.face_recipe import FaceRecipe
from model.image_detector import FaceScorer
from model.preprocessing import resize_faces
from model.store import ModelInfo, write_metadata
from model.video_detector import VideoDetector, VideoModel
from tests.conftest import save_lite_image_model
from tests.test_video_io import numbered_frames, set_webm_duration, write_clip

VIDEO_THRESHOLD = 0.37


def face_frames(photo: np.ndarray, count: int, width: int = 320, height: int = 240, side: int = 200,
                present: range | None = None, second: bool = False) -> list[np.ndarray]:
    """The photo, ``side`` pixels square, sliding right over a grey background; missing from frames outside
    ``present``; with ``second`` a smaller mirrored copy stands still on the right in every other frame."""
    face = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    small = cv2.resize(photo[:, ::-1], (side * 4 // 5, side * 4 // 5), interpolation=cv2.INTER_AREA)
    frames = []
    for index in range(count):
        frame = np.full((height, width, 3), 110, np.uint8)
        if present is None or index in present:
            x = index * (width - side - small.shape[1] * second) // max(1, count - 1)
            frame[(height - side) // 2:(height + side) // 2, x:x + side] = face
        if second and index % 2:
            frame[height - small.shape[0]:, width - small.shape[1]:] = small
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def video_model_path(tmp_path_factory) -> Path:
    """A real, untrained video model small enough for tests: 4 frames of 32-pixel faces."""
    from model.architectures import build_video_model
    from model.store import save_model

    path = tmp_path_factory.mktemp("models") / "video_model.keras"
    network = build_video_model(frames=4, image_size=32, lstm_units=8)
    return save_model(network, path, ModelInfo(kind="video", architecture=network.name, frames=4, image_size=32,
                                               real_below=VIDEO_THRESHOLD, fake_from=VIDEO_THRESHOLD)).path


@pytest.fixture(scope="module")
def scorer(small_image_model) -> FaceScorer:
    return FaceScorer(small_image_model)


@pytest.fixture(scope="module")
def detector(scorer, video_model_path) -> VideoDetector:
    return VideoDetector(scorer, video_model_path, frames=8)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, astronaut) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    write_clip(folder / "moving.mp4", face_frames(astronaut, 16))
    write_clip(folder / "gap.avi", face_frames(astronaut, 16, present=range(0, 16, 3)))
    write_clip(folder / "two.webm", face_frames(astronaut, 16, width=480, second=True))
    tight = cv2.resize(astronaut[62:174, 182:267], (96, 128))
    write_clip(folder / "cropped.mp4", [np.roll(tight, shift, axis=1) for shift in range(-4, 4)])
    write_clip(folder / "nobody.mkv", numbered_frames(16))
    return folder


def test_moving_face_scored_by_the_image_model(detector, scorer, clips):
    report = detector.analyze_file(clips / "moving.mp4", model="image")
    record = json.loads(json.dumps(report.to_json()))
    assert record["kind"] == "video" and record["verdict"] in ("real", "fake") and record["error"] is None
    assert (record["model"], record["threshold"], record["video_model"]) == (scorer.name, scorer.thresholds.fake_from, "image")
    assert record["frames_sampled"] == record["frames_with_face"] == len(report.faces) == 8
    frames = record["frames"]
    assert [frame["index"] for frame in frames] == [0, 2, 4, 6, 9, 11, 13, 15]
    assert [frame["time_s"] for frame in frames] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.9, 1.1, 1.3, 1.5])
    xs = [frame["box"][0] for frame in frames]
    assert xs == sorted(xs) and xs[-1] - xs[0] > 80  # the face moves right
    per_face = scorer.score([face.crop for face in report.faces])
    assert [face.fake_probability for face in report.faces] == pytest.approx(per_face.tolist(), abs=1e-5)
    assert report.fake_probability == pytest.approx(per_face.mean(), abs=1e-5)
    assert record["scores"] == {"image": round(report.fake_probability, 4)}
    assert record["tracks"] == [{"id": 0, "frames": [frame["index"] for frame in frames],
                                 "mean_fake_probability": round(report.fake_probability, 4)}]


def test_moving_face_scored_by_the_video_model(detector, clips):
    assert detector.available_models == ["video", "image"]
    report = detector.analyze_file(clips / "moving.mp4")
    record = report.to_json()
    assert record["model"].endswith("@video_model.keras") and record["threshold"] == VIDEO_THRESHOLD
    assert record["video_model"] == "video" and record["frames_with_face"] == 8
    assert set(record["scores"]) == {"image", "video"} and record["scores"]["video"] == record["fake_probability"]
    assert record["verdict"] == ("fake" if report.fake_probability >= VIDEO_THRESHOLD else "real")
    assert all(0.0 <= frame["fake_probability"] <= 1.0 for frame in record["frames"])


def _direct(model: VideoModel, sequence: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """The saved Keras model called directly on one sequence."""
    batch = np.stack([resize_faces(crop, model.image_size).numpy() for crop in sequence])[None]
    outputs = model.keras_model(batch, training=False)
    return float(outputs["video"][0, 0]), outputs["frames"].numpy()[0, :, 0]


def test_short_sequences_are_filled_by_repeating_faces(detector, astronaut):
    model = detector.video_model
    a, b = astronaut[50:200, 150:300], astronaut[::-1][50:200, 150:300]
    (video, per_face, _), = model.score([[a, b]])
    expected_video, expected_frames = _direct(model, [a, a, b, b])
    assert video == pytest.approx(expected_video, abs=1e-5)
    assert per_face == pytest.approx([expected_frames[:2].mean(), expected_frames[2:].mean()], abs=1e-5)


def test_scores_go_through_the_stored_clip_and_frame_calibrations(video_model_path, tmp_path, astronaut):
    """Known answer: a calibration with slope 0 maps every score to sigmoid(intercept)."""
    from model.calibration import Calibration

    path = tmp_path / "video_model.keras"
    path.write_bytes(video_model_path.read_bytes())
    write_metadata(path, replace(ModelInfo.read(video_model_path), calibration=Calibration(0.0, 1.0),
                                 frame_calibration=Calibration(0.0, -2.0)))
    (video, per_face, raw), = VideoModel(path).score([[astronaut[50:200, 150:300]] * 3])
    assert video == pytest.approx(1 / (1 + np.exp(-1.0)), abs=1e-6)
    assert per_face == pytest.approx([1 / (1 + np.exp(2.0))] * 3, abs=1e-6)
    assert raw == pytest.approx(_direct(VideoModel(path), [astronaut[50:200, 150:300]] * 4)[1][:3], abs=1e-5)


def test_long_sequences_are_dealt_into_windows(detector, astronaut):
    model = detector.video_model
    crops = [np.roll(astronaut, 9 * i, axis=1)[50:200, 150:300] for i in range(6)]
    (video, per_face, _), = model.score([crops])
    first, second = _direct(model, [crops[i] for i in (0, 2, 2, 4)]), _direct(model, [crops[i] for i in (1, 3, 3, 5)])
    assert video == pytest.approx((first[0] + second[0]) / 2, abs=1e-5)
    assert per_face[2] == pytest.approx(first[1][1:3].mean(), abs=1e-5)
    assert per_face[5] == pytest.approx(second[1][3], abs=1e-5)


@pytest.fixture(scope="module")
def lite_models(tmp_path_factory) -> tuple[Path, Path]:
    """A registry image model (EfficientNet-Lite0 on 32-pixel faces, untrained) and a video model built on it the
    way ``train.video --encoder IMAGE_MODEL`` builds one: the image model's backbone and head run every frame."""
    from model.architectures import assemble_video_model, build_sequence_head, frame_model_from_face_model
    from model.backbones import BACKBONES
    from model.store import save_model

    folder = tmp_path_factory.mktemp("lite")
    face, image = save_lite_image_model(folder / "image_model.keras", 32)
    video = assemble_video_model(frame_model_from_face_model(face),
                                 build_sequence_head(4, BACKBONES["efficientnet_lite0"].width, 8), 4)
    return image, save_model(video, folder / "video_model.keras",
                             ModelInfo(kind="video", architecture=video.name, frames=4, image_size=32)).path


def test_a_video_model_on_the_image_models_weights_gives_its_score_in_the_same_pass(lite_models, scorer, clips):
    image_path, video_path = lite_models
    lite = FaceScorer(image_path)
    shared = VideoDetector(lite, video_path, frames=8)
    assert shared.shares_encoder and not VideoDetector(scorer, video_path, frames=8).shares_encoder
    passes = []
    lite.score = lambda crops: passes.append(len(crops)) or FaceScorer.score(lite, crops)
    report = shared.analyze_file(clips / "moving.mp4")
    assert passes == []  # the image model did not run again on the main track
    expected = FaceScorer.score(lite, [face.crop for face in report.faces]).mean()
    assert report.to_json()["scores"]["image"] == pytest.approx(expected, abs=2e-4)
    assert shared.analyze_file(clips / "moving.mp4", model="image").fake_probability == pytest.approx(expected, abs=1e-5)


def test_an_image_model_scored_over_other_views_gets_its_own_pass(lite_models, clips, tmp_path):
    """The video model's pass reads each face as cut: an image model that averages the mirror image too is scored
    by itself, as it scores any face."""
    image_path = Path(shutil.copy(lite_models[0], tmp_path))
    shutil.copy(lite_models[0].with_suffix(".json"), tmp_path)
    write_metadata(image_path, replace(ModelInfo.read(image_path), views=("as_cut", "mirrored")))
    mirrored = FaceScorer(image_path)
    detector = VideoDetector(mirrored, lite_models[1], frames=8)
    assert not detector.shares_encoder
    report = detector.analyze_file(clips / "moving.mp4")
    expected = mirrored.score([face.crop for face in report.faces]).mean()
    assert report.to_json()["scores"]["image"] == pytest.approx(expected, abs=1e-5)


def test_a_video_model_calibrated_as_its_encoder_gives_the_image_models_verdict(lite_models, clips, tmp_path):
    """A video model judging a clip by the mean of its frames, calibrated as its encoder calibrates a face
    (``train.calibration.calibrate_video_as_encoder``), calls the clip as the image model frame by frame does."""
    from model.calibration import Calibration
    from train.calibration import calibrate_video_as_encoder

    image_path, video_path = (Path(shutil.copy(p, tmp_path)) for p in lite_models)
    for path in lite_models:
        shutil.copy(path.with_suffix(".json"), tmp_path)
    image = replace(ModelInfo.read(image_path), calibration=Calibration(1.7, -0.4), real_below=0.3, fake_from=0.6)
    write_metadata(image_path, image)
    video = calibrate_video_as_encoder(ModelInfo.read(video_path), image, [0, 1], np.asarray([[0.2] * 4, [0.8] * 4]))
    assert (video.thresholds, video.frame_calibration) == (image.thresholds, image.calibration)
    write_metadata(video_path, replace(video, clip_score="frame_mean"))
    detector = VideoDetector(FaceScorer(image_path), video_path, frames=8)
    by_video = detector.analyze_file(clips / "moving.mp4")
    by_image = detector.analyze_file(clips / "moving.mp4", model="image")
    assert by_video.to_json()["video_model"] == "video"
    assert by_video.fake_probability == pytest.approx(by_image.fake_probability, abs=2e-4)
    assert by_video.verdict == by_image.verdict


def test_without_video_weights_only_the_image_model_is_offered(scorer, tmp_path, clips):
    detector = VideoDetector(scorer, tmp_path / "absent.keras", frames=4)
    assert detector.available_models == ["image"]
    report = detector.analyze_file(clips / "moving.mp4", model="video")
    assert (report.verdict, report.error, report.kind) == ("error", "video model not available", "video")
    assert detector.analyze_file(clips / "moving.mp4", model="image").verdict in ("real", "fake")
    assert "unknown model" in detector.analyze_file(clips / "moving.mp4", model="audio").error


def test_clip_without_faces_is_no_face(detector, clips):
    record = detector.analyze_file(clips / "nobody.mkv", model="image").to_json()
    assert record["verdict"] == "no_face" and record["fake_probability"] is None and record["faces"] == []
    assert record["frames_sampled"] == 8 and record["frames_with_face"] == 0
    assert record["tracks"] == [] and record["scores"] == {}
    assert all(frame["box"] is None and frame["fake_probability"] is None for frame in record["frames"])


def test_frames_without_a_face_are_reported_not_dropped(detector, clips):
    record = detector.analyze_file(clips / "gap.avi", model="image").to_json()
    frames = record["frames"]
    assert len(frames) == record["frames_sampled"] == 8
    with_face = [frame["index"] for frame in frames if frame["box"] is not None]
    assert with_face == [0, 6, 9, 15] and record["frames_with_face"] == 4
    assert all((frame["fake_probability"] is None) == (frame["box"] is None) for frame in frames)
    assert len(record["tracks"]) == 1 and record["tracks"][0]["frames"] == with_face


def test_a_second_person_is_a_separate_track(detector, clips):
    report = detector.analyze_file(clips / "two.webm")
    record = report.to_json()
    assert [len(track["frames"]) for track in record["tracks"]] == [8, 4]
    assert all(track["mean_fake_probability"] is not None for track in record["tracks"])
    assert record["frames_with_face"] == len(report.faces) == 8
    assert [frame["faces"] for frame in record["frames"]] == [1, 1, 1, 1, 2, 2, 2, 2]  # the second from frame 9 on
    assert all(face.box[0] < 300 for face in report.faces)  # the main track is the large face on the left


def test_a_video_detector_finds_and_samples_faces_by_its_video_models_recipe(scorer, video_model_path, clips,
                                                                             tmp_path):
    recipe = replace(FaceRecipe(), min_confidence=0.97, frame_detection_side=256, frames=6)
    path = shutil.copy(video_model_path, tmp_path / "video_model.keras")
    write_metadata(path, replace(ModelInfo.read(video_model_path), face_recipe=recipe))
    detector = VideoDetector(scorer, path)
    assert detector.cutter.recipe == recipe != scorer.recipe  # not the image model's face finder
    faces = detector.cutter.detector
    assert (faces.detection_side, faces.min_confidence) == (recipe.detection_side, 0.97)
    sides = []
    search = faces.detect_many
    faces.detect_many = lambda frames, side=None: sides.append(side) or search(frames, side)
    report = detector.analyze_file(clips / "moving.mp4", model="image")
    assert sides[0] == 256 and report.clip.frames_sampled == 6
    assert report.faces and all(face.score >= 0.97 for face in report.faces)


def test_small_faces_are_found_by_the_second_pass(detector, tmp_path, astronaut):
    frames = face_frames(astronaut, 4, width=960, height=540, side=140)  # a face about 25 pixels wide
    faces = detector.cutter.detector
    assert faces.detect_many(frames[:1], detector.cutter.recipe.frame_detection_side) == [[]]
    record = detector.analyze_file(write_clip(tmp_path / "far.mp4", frames), model="image").to_json()
    assert [frame["faces"] for frame in record["frames"]] == [1, 1, 1, 1]
    assert sum(len(track["frames"]) for track in record["tracks"]) == 4  # it jumps 11 face widths between samples


def test_clip_already_cropped_to_the_face_is_found(detector, clips):
    record = detector.analyze_file(clips / "cropped.mp4", model="image").to_json()
    assert record["verdict"] in ("real", "fake") and record["frames_with_face"] == record["frames_sampled"] == 8


def test_browser_like_webm_is_sampled_over_the_whole_clip(detector, tmp_path, astronaut):
    path = write_clip(tmp_path / "webcam.webm", face_frames(astronaut, 30))
    set_webm_duration(path, None)
    record = detector.analyze_file(path, model="image").to_json()
    assert record["frames_sampled"] == 8 and record["frames"][-1]["index"] == 29
    assert record["frames_with_face"] == 8


def test_unreadable_clips_give_error_reports(detector, tmp_path, clips):
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes())
    for path in (tmp_path / "noise.mp4", tmp_path / "missing.webm"):
        report = detector.analyze_file(path)
        assert report.verdict == "error" and report.kind == "video" and report.fake_probability is None
        assert report.error and "\n" not in report.error


def test_damaged_frames_never_raise(detector, tmp_path, clips):
    data = bytearray((clips / "moving.mp4").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2000] = np.random.default_rng(2).integers(0, 256, 2000, np.uint8).tobytes()
    (tmp_path / "damaged.mp4").write_bytes(bytes(data))
    report = detector.analyze_file(tmp_path / "damaged.mp4", model="image")
    assert report.verdict in ("real", "fake", "no_face", "error")
    assert (report.clip.frames_sampled if report.clip else 0) <= 8


def test_a_picture_renamed_as_a_clip_is_not_judged_as_one(detector, tmp_path, astronaut):
    """A JPEG saved as .mp4 decodes as one frame: an error with the reason, never a confident clip verdict."""
    path = tmp_path / "photo.mp4"
    path.write_bytes(cv2.imencode(".jpg", cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))[1].tobytes())
    report = detector.analyze_file(path, model="image")
    assert report.verdict == "error" and report.fake_probability is None
    assert "still picture" in report.error


@pytest.mark.parametrize("model", ["image", "video"])
def test_a_face_in_too_few_frames_gives_no_confident_verdict(detector, tmp_path, astronaut, model):
    write_clip(tmp_path / "glimpse.mp4", face_frames(astronaut, 16, present=range(0, 2)))
    record = detector.analyze_file(tmp_path / "glimpse.mp4", model=model).to_json()
    assert record["frames_with_face"] == 1 and record["flags"] == ["few_frames"]
    assert record["verdict"] == "uncertain" and record["fake_probability"] is not None
