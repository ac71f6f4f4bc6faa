"""The multi-domain training data: domains and weights, face crops as serving cuts them, balanced sampling,
quality augmentation that ignores the label, and self-blended pseudo-fakes."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import cv2
import numpy as np
import pytest
import tensorflow as tf

from model.preprocessing import resize_faces
from tests.conftest import write_rgb
from train.augment import QualityAugmentation, gaussian_blur, harmless_view
from model.face_recipe import FaceRecipe
from train.data import Labelled, Shard, mixed_dataset, read_record, stream_weights
from train.domains import LARGE_PICTURE, PICTURE, SELF_BLENDED, FaceCropper, domains_from_args, load_domains, read_spec
from train.self_blend import face_mask, self_blend
from train.sequences import jittered_frames


def _flat_domain(root, values: dict[str, int], count: int = 12, side: int = 32) -> Labelled:
    """Real/Fake files of one flat colour each, so a sample tells which stream it came from."""
    paths, labels = [], []
    for label, (name, value) in enumerate(values.items()):
        for index in range(count):
            paths.append(str(write_rgb(root / name / f"{index}.png", np.full((side, side, 3), value, np.uint8))))
            labels.append(label)
    return Labelled(paths, labels)


def test_batches_hold_real_fake_pairs_of_one_domain_by_weight_with_self_blends_of_the_real_beside_them(tmp_path):
    """Every batch is (real, fake) pairs; a pair comes from one domain, domains are drawn by weight; a paired fake is,
    with the self-blend share, a self-blend of the very real beside it (a flat real stays flat at its corner), and a
    real-only domain's fakes are always self-blends of their reals."""
    domains = {"a": (_flat_domain(tmp_path / "a", {"Real": 10, "Fake": 60}), 3.0),
               "b": (_flat_domain(tmp_path / "b", {"Real": 110, "Fake": 160}), 1.0),
               "c": (_flat_domain(tmp_path / "c", {"Real": 210}), 1.0)}
    assert stream_weights(domains) == pytest.approx({"a": 0.6, "b": 0.2, "c": 0.2})
    dataset = mixed_dataset(domains, 32, 100, self_blend_share=0.25, seed=3, augmentation=None)
    domain_of = {10: "a", 60: "a", 110: "b", 160: "b", 210: "c"}
    seen, blended = Counter(), Counter()
    for faces, labels in dataset.take(20):
        corners, labels = faces.numpy()[:, 0, 0, 0].astype(int), labels.numpy()
        assert labels.tolist() == [0.0, 1.0] * 50
        for real, fake in zip(corners[0::2], corners[1::2]):
            assert domain_of[real] == domain_of[fake]
            seen[domain_of[real]] += 1
            blended[domain_of[real]] += int(fake == real)
    total = sum(seen.values())
    for name, share in stream_weights(domains).items():
        assert seen[name] / total == pytest.approx(share, abs=0.04), name
    assert blended["a"] / seen["a"] == pytest.approx(0.25, abs=0.07)
    assert blended["c"] == seen["c"]


def test_with_views_the_second_half_of_a_batch_is_a_harmless_view_of_the_first_face_by_face(tmp_path):
    """Flat grey faces of six brightnesses: the face at place i of the second half has its source's label, and its
    brightness is its source's within the white balance's ±10 % (greyscale, JPEG, size, cut and mirror leave a
    flat grey face as it is), while the batch's brightnesses differ from each other by more."""
    values = {"Real": 40, "Fake": 70}
    domains = {name: (_flat_domain(tmp_path / name, {"Real": values["Real"] + shift, "Fake": values["Fake"] + shift}),
                      1.0) for name, shift in (("a", 0), ("b", 60), ("c", 120))}
    for faces, labels in mixed_dataset(domains, 32, 16, seed=2, augmentation=None, views=True).take(6):
        means, labels = faces.numpy().mean(axis=(1, 2, 3)), labels.numpy()
        assert labels.tolist() == [0.0, 1.0] * 4 * 2
        for index in range(8):
            assert abs(means[8 + index] - means[index]) <= 0.1 * means[index] + 1
    with pytest.raises(ValueError, match="multiple of 4"):
        mixed_dataset(domains, 32, 6, views=True)


def test_a_harmless_view_keeps_the_face_shape_and_type_and_changes_it(astronaut):
    face = np.asarray(resize_faces(astronaut[30:250, 130:350], 64), np.uint8)
    views = [harmless_view(tf.constant(face)).numpy() for _ in range(24)]
    assert all(view.shape == face.shape and view.dtype == np.uint8 for view in views)
    assert sum(not np.array_equal(view, face) for view in views) >= 22


def test_each_worker_reads_its_own_shard_of_every_file_list(tmp_path):
    data = _flat_domain(tmp_path, {"Real": 10, "Fake": 60}, count=4)
    first, second = Shard(2, 0).of(data.paths), Shard(2, 1).of(data.paths)
    assert set(first).isdisjoint(second) and sorted(first + second) == sorted(data.paths)
    assert Shard().of(data.paths) == data.paths


def _sharpness(face: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_augmentation_makes_quality_vary_the_same_way_for_both_classes(tmp_path, astronaut):
    """Same picture in both classes: after augmentation, sharpness and size-related statistics are spread wide and
    distributed alike for real and fake, so they cannot predict the label."""
    face = np.asarray(resize_faces(astronaut[30:250, 130:350], 96), np.uint8)
    domains = {"d": (Labelled([str(write_rgb(tmp_path / "Real" / "x.png", face)),
                               str(write_rgb(tmp_path / "Fake" / "x.png", face))], [0, 1]), 1.0)}
    sharpness: dict[int, list[float]] = {0: [], 1: []}
    for faces, labels in mixed_dataset(domains, 96, 50, seed=5).take(12):
        for image, label in zip(faces.numpy().astype(np.uint8), labels.numpy()):
            sharpness[int(label)].append(_sharpness(image))
    original = _sharpness(face)
    for label in (0, 1):
        values = np.asarray(sharpness[label])
        assert values.min() < 0.5 * original and values.max() > 0.9 * original  # blurred and kept sharp
    real, fake = np.log(sharpness[0]), np.log(sharpness[1])
    assert abs(np.median(real) - np.median(fake)) < 0.25 * (np.percentile(real, 90) - np.percentile(real, 10))


def test_augmentation_keeps_shape_and_type():
    face = tf.constant(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    out = QualityAugmentation(rescale=1.0, blur=1.0, sharpen=1.0, noise=1.0, jpeg=1.0, colour=1.0, affine=1.0)(face)
    assert out.shape == (64, 64, 3) and out.dtype == tf.uint8
    assert not np.array_equal(out.numpy(), face.numpy())


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_greyscale_share_is_the_share_of_faces_turned_grey(astronaut, share):
    only_grey = QualityAugmentation(rescale=0.0, blur=0.0, sharpen=0.0, noise=0.0, jpeg=0.0, colour=0.0,
                                    white_balance=0.0, affine=0.0, greyscale=share)
    faces = [only_grey(tf.constant(cv2.resize(astronaut, (64, 64)))).numpy().astype(int) for _ in range(6)]
    grey = [np.abs(face[..., 0] - face[..., 1]).max() == 0 and np.abs(face[..., 1] - face[..., 2]).max() == 0
            for face in faces]
    assert grey == [share == 1.0] * len(faces)


@pytest.mark.parametrize("sigma", [0.5, 1.5, 2.2])
def test_gaussian_blur_is_opencvs_with_reflected_edges(astronaut, sigma):
    face = cv2.resize(astronaut, (96, 80)).astype(np.float32)  # not square: rows and columns each blurred right
    kernel = cv2.getGaussianKernel(9, sigma).astype(np.float32)[:, 0]
    expected = cv2.sepFilter2D(face, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT_101)
    blurred = gaussian_blur(tf.constant(face), tf.constant(sigma)).numpy()
    assert blurred.shape == face.shape
    assert np.abs(blurred - expected).max() < 1e-3
    stacked = gaussian_blur(tf.stack([face, face[::-1]]), tf.constant(sigma)).numpy()
    assert np.abs(stacked[1] - blurred[::-1]).max() < 1e-3


def test_clip_augmentation_gives_every_frame_of_a_clip_the_same_look(astronaut):
    """One draw per clip: identical frames stay identical (the clip keeps one look), while separate draws per
    frame, or for another clip, differ."""
    face = np.asarray(resize_faces(astronaut[30:250, 130:350], 64), np.uint8)
    frames = tf.constant(np.stack([face] * 5))
    augmentation = QualityAugmentation(rescale=1.0, blur=1.0, noise=0.0, jpeg=1.0, colour=1.0, affine=1.0)
    tf.random.set_seed(3)
    clips = [augmentation.clip(frames).numpy() for _ in range(3)]
    for clip in clips:
        assert clip.shape == (5, 64, 64, 3) and clip.dtype == np.uint8
        assert all(np.array_equal(frame, clip[0]) for frame in clip[1:])
        assert not np.array_equal(clip[0], face)
    assert not np.array_equal(clips[0], clips[1])
    one_by_one = [augmentation(frames[i]).numpy() for i in range(5)]
    assert not all(np.array_equal(frame, one_by_one[0]) for frame in one_by_one[1:])
    noisy = QualityAugmentation(noise=1.0, jpeg=0.0).clip(frames).numpy().astype(int)
    assert 0 < np.abs(noisy[0] - noisy[1]).mean() < 10  # only the sensor noise differs between frames


def test_jittered_frames_keep_order_and_stretch_dropped_frames_like_serving():
    rng = np.random.default_rng(0)
    lengths = set()
    for _ in range(200):
        chosen = jittered_frames(40, 20, rng, drop=0.5)
        assert len(chosen) == 20 and np.all(np.diff(chosen) >= 0) and chosen.max() < 40
        lengths.add(len(np.unique(chosen)))
    assert 20 in lengths and min(lengths) >= 12 and len(lengths) > 3  # some clips lose up to 40 % of their frames


def test_self_blended_face_changes_inside_the_mask_only(astronaut):
    from model.face_path import FaceCutter

    cutter = FaceCutter(FaceRecipe())
    found = cutter.detector.detect(astronaut)[0]
    face = np.asarray(resize_faces(cutter.cut(astronaut, found.box), 256), np.uint8)
    rng = np.random.default_rng(7)
    for _ in range(4):
        blended, mask = self_blend(face, rng)
        assert blended.shape == face.shape and blended.dtype == np.uint8
        outside, inside = mask == 0, mask > 0.5 * mask.max()
        assert outside.mean() > 0.3 and inside.mean() > 0.1  # a face-sized region, background around it
        assert np.array_equal(blended[outside], face[outside])  # the background is untouched
        change = np.abs(blended.astype(int) - face.astype(int)).mean(axis=-1)
        assert change[inside].mean() > 2.0  # the face inside the mask is altered
        centre = mask[96:160, 96:160]
        assert centre.min() > 0  # the mask covers the middle of the face


def test_the_blending_mask_follows_the_face_outline_from_its_five_points(astronaut):
    """With MTCNN's points the mask is the face's hull: it covers eyes, nose and mouth, narrows to the chin and
    leaves the crop's corners (hair, neck and collar beside the face) untouched."""
    from model.face_path import FaceCutter

    cutter = FaceCutter(FaceRecipe())
    found = cutter.detector.detect(astronaut)[0]
    left, top, side, _ = cutter.square(found.box, astronaut.shape)
    points = [[(x - left) / side, (y - top) / side] for x, y in found.landmarks]
    rng = np.random.default_rng(1)
    for _ in range(5):
        mask = face_mask(224, rng, points)
        for x, y in points:
            assert mask[int(y * 224), int(x * 224)] > 0.5
        assert mask[:, :8].max() < 0.05 and mask[:, -8:].max() < 0.05
        for corner in (mask[:24, :24], mask[:24, -24:], mask[-24:, :24], mask[-24:, -24:]):
            assert corner.max() < 0.05
        assert (mask[-20:] > 0.5).mean() < 0.35  # the chin, not the whole lower edge


def test_domains_from_flags_and_spec_file(tmp_path):
    (tmp_path / "spec.txt").write_text("# domains\nphotos 2\n../other  # no weight\n")
    domains = read_spec(tmp_path / "spec.txt")
    assert [(d.path, d.weight) for d in domains] == [(tmp_path / "photos", 2.0), (tmp_path / "../other", 1.0)]
    named = domains_from_args(["x/faces:0.5", "y/faces"], str(tmp_path / "spec.txt"))
    assert [(d.label, d.weight) for d in named] == [("faces", 0.5), ("faces#2", 1.0), ("photos", 2.0),
                                                    ("other", 1.0)]
    with pytest.raises(ValueError):
        domains_from_args([], None)
    with pytest.raises(ValueError):
        domains_from_args(["x:-1"], None)


def test_every_picture_is_cut_by_the_serving_face_path_once_whatever_its_size(tmp_path, astronaut, faceless_path,
                                                                              small_image_model):
    """Training feeds exactly the crop serving cuts (the same cutter, recipe and ceiling), for a 512-px portrait
    and a 200-px picture alike; a faceless picture is left out; nothing is cut twice."""
    import shutil

    from model.face_path import FaceCutter
    from model.image_detector import FaceScorer, ImageDetector
    from model.imaging import read_image
    from model.store import ModelInfo, write_metadata

    model = shutil.copy(small_image_model, tmp_path / "trained_with_the_recipe.keras")
    write_metadata(model, replace(ModelInfo.read(small_image_model), face_recipe=FaceRecipe()))
    serving = ImageDetector(FaceScorer(model))

    root = tmp_path / "photos"
    small = np.asarray(resize_faces(astronaut[10:290, 110:390], 200), np.uint8)
    portrait = write_rgb(root / "Train" / "Real" / "portrait.png", astronaut)
    write_rgb(root / "Train" / "Real" / "small.png", small)
    write_rgb(root / "Train" / "Fake" / "small.png", cv2.GaussianBlur(small, (5, 5), 0))
    cv2.imwrite(str(root / "Train" / "Fake" / "no_face.png"), cv2.resize(cv2.imread(str(faceless_path)), (640, 480)))
    for label in ("Real", "Fake"):
        write_rgb(root / "Validation" / label / "small.png", small)
    cropper = FaceCropper(tmp_path / "cache", FaceRecipe(), quiet=True)
    domains = domains_from_args([str(root)], None)
    train = load_domains(domains, cropper)["train"][0]
    assert sorted(train.origin) == [PICTURE, PICTURE, LARGE_PICTURE]  # the faceless picture is left out
    assert train.data.counts() == {"real": 2, "fake": 1}
    assert type(cropper.cutter) is type(serving.cutter) is FaceCutter
    assert cropper.cutter.recipe == serving.cutter.recipe == serving.scorer.recipe
    served = {path: serving.cutter.cap(serving.analyze(read_image(path)).faces[0].crop)  # as the model sees it
              for path in (portrait, root / "Train" / "Real" / "small.png")}
    by_source = {read_record(p)["source"]: p for p in train.data.paths}
    for source, expected in served.items():
        cached = cv2.cvtColor(cv2.imread(by_source[str(source)]), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(cached, expected)  # the very crop serving cuts, capped alike
        assert cached.shape[0] <= FaceRecipe().crop_ceiling
    assert len(read_record(by_source[str(portrait)])["landmarks"]) == 5
    before = sorted((p, p.stat().st_mtime_ns) for p in (tmp_path / "cache").rglob("*.png"))
    again = load_domains(domains, cropper)["train"][0]
    assert again.data.paths == train.data.paths
    assert sorted((p, p.stat().st_mtime_ns) for p in (tmp_path / "cache").rglob("*.png")) == before  # not cut again


@pytest.mark.parametrize("marked", [False, True])
def test_a_real_only_domain_gets_cached_self_blends_of_its_own_reals_outside_training(tmp_path, astronaut, marked):
    """A folder without fakes, or one marked ``real_only`` in a config (its own fakes left out), is paired with
    self-blends of its reals."""
    root = tmp_path / "people"
    for split in ("Train", "Validation"):
        for index in range(2):
            write_rgb(root / split / "Real" / f"{index}.png", np.roll(astronaut, 8 * index, axis=1))
        if marked:  # fakes of another source, which the config leaves out
            write_rgb(root / split / "Fake" / "other.png", astronaut[::-1].copy())
    cropper = FaceCropper(tmp_path / "cache", FaceRecipe(), quiet=True)
    splits = load_domains(domains_from_args(None, None, ({"path": str(root), "real_only": marked},)), cropper)
    assert splits["train"][0].data.counts() == {"real": 2, "fake": 0}  # made while training, beside their reals
    validation = splits["validation"][0]
    assert validation.data.counts() == {"real": 2, "fake": 2}
    assert validation.origin == [LARGE_PICTURE, LARGE_PICTURE, SELF_BLENDED, SELF_BLENDED]  # 512-px pictures
    again = load_domains(domains_from_args(None, None, ({"path": str(root), "real_only": marked},)),
                         cropper)["validation"][0]
    for first, second in zip(validation.data.paths[2:], again.data.paths[2:]):
        assert np.array_equal(cv2.imread(first), cv2.imread(second))  # made once, the same every run


def test_matched_fakes_take_the_size_framing_sharpness_and_jpeg_quality_of_a_real_picture(tmp_path, astronaut):
    """``train.matched_fakes``: a sharp 512-px PNG fake (its face a small part of the picture) paired with a soft
    200-px JPEG real (its face filling the picture) comes out as the real came: same size, the face placed and
    sized alike, no sharper, the same JPEG quality; the real is linked beside it and the pair recorded."""
    import json

    from model.face_path import FaceCutter
    from model.imaging import jpeg_quality, read_image
    from train.matched_fakes import History, build, sharpness

    tight = np.asarray(resize_faces(astronaut[10:290, 110:390], 200), np.uint8)
    soft = cv2.GaussianBlur(tight, (0, 0), 1.0)
    for split in ("Train", "Validation"):
        write_rgb(tmp_path / "generated" / split / "Fake" / "portrait.png", astronaut)
        write_rgb(tmp_path / "generated" / split / "Real" / "left_out.png", astronaut)  # its own reals: not used
        real = tmp_path / "photos" / split / "Real" / "person.jpg"
        real.parent.mkdir(parents=True)
        cv2.imwrite(str(real), cv2.cvtColor(soft, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
    counts = build(tmp_path / "generated", tmp_path / "photos", tmp_path / "matched")
    assert counts == {"train": 1, "validation": 1}
    cutter = FaceCutter(FaceRecipe())
    real = tmp_path / "photos" / "Validation" / "Real" / "person.jpg"
    made = tmp_path / "matched" / "Validation" / "Fake" / "portrait.jpg"
    wanted, got = History.of(real, cutter), History.of(made, cutter)
    assert (got.width, got.height, got.quality) == (200, 200, 75) == (wanted.width, wanted.height, jpeg_quality(real))
    assert np.allclose(got.face, wanted.face, atol=0.06)  # placed and sized as the real's face
    original = History.of(tmp_path / "generated" / "Validation" / "Fake" / "portrait.png", cutter)
    assert original.face[2] < 0.6 * wanted.face[2]  # it was a smaller part of its picture
    assert got.sharpness <= 1.2 * wanted.sharpness < original.sharpness  # softened to the real's sharpness
    assert sharpness(read_image(made), cutter.faces(read_image(made))[0][0].box) == pytest.approx(got.sharpness)
    link = tmp_path / "matched" / "Validation" / "Real" / "person.jpg"
    assert link.is_symlink() and link.resolve() == real.resolve()
    pairs = json.loads((tmp_path / "matched" / "history.json").read_text())["pairs"]["validation"]
    assert pairs == [{"fake": str((tmp_path / "generated" / "Validation" / "Fake" / "portrait.png").resolve()),
                      "saved": str(made), "history_of": str(real.resolve())}]
