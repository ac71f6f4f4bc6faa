"""Face finding on a real photo, and crops framed like the training data."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from model.face_recipe import FaceRecipe
from model.faces import FaceDetector
from model.preprocessing import crop_face, resize_faces, square_box

MARGIN = FaceRecipe().margin


def recipe_detector(detection_side: int = FaceRecipe().detection_side) -> FaceDetector:
    """A detector with the face recipe's confidence, searching pictures at ``detection_side``."""
    return FaceDetector(detection_side, FaceRecipe().min_confidence)


def test_finds_the_astronauts_face(astronaut):
    faces = recipe_detector().detect(astronaut)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert faces[0].score > 0.95
    assert 150 < x + w / 2 < 260 and 80 < y + h / 2 < 160  # the face is left of centre, near the top


def test_large_photo_is_downscaled_and_boxes_come_back_in_original_pixels(astronaut):
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    small_box = recipe_detector().detect(astronaut)[0].box
    big_box = recipe_detector(640).detect(big)[0].box
    assert np.allclose(np.array(big_box) / 4, small_box, atol=6)


def test_tflite_networks_find_what_the_library_finds_layer_by_layer(astronaut):
    from mtcnn import MTCNN

    frames = [astronaut, cv2.resize(astronaut, (384, 256)), cv2.flip(astronaut, 1)]
    library, detector = MTCNN(stages="face_and_landmarks_detection"), recipe_detector()
    for frame in frames:  # new sizes: every pyramid level an input shape of its own
        ours, theirs = detector._mtcnn.detect_faces(frame), library.detect_faces(frame)
        assert len(ours) == len(theirs) == 1
        assert np.allclose(ours[0]["box"], theirs[0]["box"], atol=1)
        assert abs(ours[0]["confidence"] - theirs[0]["confidence"]) < 1e-4


def test_each_mtcnn_network_run_by_tflite_gives_the_keras_networks_outputs_and_is_converted_once(tflite_cache):
    """P-Net at several picture sizes and batches, R-Net and O-Net at several batches: the same outputs, in the same
    order, as the library's own networks; no candidates give no outputs (where the library's networks raise, which
    it reads as "no face"); each network converted once, into the cache."""
    from mtcnn import MTCNN

    ours = [stage._stage._model for stage in recipe_detector()._mtcnn._stages]
    theirs = [stage.model for stage in MTCNN(stages="face_and_landmarks_detection").stages]
    rng = np.random.default_rng(0)
    shapes = [[(1, 37, 53), (3, 12, 12), (1, 37, 53)], [(7, 24, 24), (0, 24, 24), (1, 24, 24)],
              [(3, 48, 48), (0, 48, 48)]]
    for network, reference, network_shapes in zip(ours, theirs, shapes):
        for shape in network_shapes:
            batch = rng.uniform(-1, 1, (*shape, 3)).astype(np.float32)
            if not len(batch):
                empty = network(batch)
                assert len(empty) in (2, 3) and all(len(output) == 0 for output in empty)
                continue
            got, expected = network(batch), reference(batch)
            assert [tuple(g.shape) for g in got] == [tuple(e.shape) for e in expected] and len(got) in (2, 3)
            for g, e in zip(got, expected):
                np.testing.assert_allclose(np.asarray(g), np.asarray(e), atol=1e-5)
    assert sorted(path.name.split("-")[0] for path in tflite_cache.glob("?net-*.tflite")) == ["onet", "pnet", "rnet"]


def test_the_tensor_batch_changes_nothing_and_each_thread_gets_its_own_pictures_faces(astronaut):
    """Stages handed the picture batch as one tensor find exactly what they find handed the NumPy batch, boxes,
    confidences and landmarks; detections running in four threads at once each get their own picture's faces."""
    mtcnn = recipe_detector()._mtcnn
    frames = [astronaut, cv2.flip(astronaut, 1), cv2.resize(astronaut, (384, 256))]
    ours = [mtcnn.detect_faces(frame) for frame in frames]
    wrapped = mtcnn._stages
    try:
        mtcnn._stages = [stage._stage for stage in wrapped]
        theirs = [mtcnn.detect_faces(frame) for frame in frames]
    finally:
        mtcnn._stages = wrapped
    assert ours == theirs and ours[0] != ours[1]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(mtcnn.detect_faces, frames * 4)) == ours * 4


def test_every_detector_runs_the_one_set_of_networks():
    assert recipe_detector()._mtcnn is FaceDetector(320, 0.5)._mtcnn


def test_no_face_and_tiny_images():
    detector = recipe_detector()
    assert detector.detect(np.full((240, 320, 3), 127, np.uint8)) == []
    assert detector.detect(np.zeros((1, 1, 3), np.uint8)) == []


def test_square_crop_stays_inside_the_frame():
    left, top, side, _ = square_box((0, 0, 100, 80), (200, 300, 3), MARGIN)
    assert (left, top) == (0, 0) and side == 115
    left, top, side, _ = square_box((250, 150, 60, 60), (200, 300, 3), MARGIN)
    assert left + side <= 300 and top + side <= 200
    assert crop_face(np.zeros((50, 40, 3), np.uint8), (0, 0, 40, 50), MARGIN).shape == (40, 40, 3)


def test_resize_gives_whole_pixel_values_in_range():
    crop = np.random.default_rng(0).integers(0, 256, (90, 90, 3), dtype=np.uint8)
    resized = resize_faces(crop, 64).numpy()
    assert resized.shape == (64, 64, 3)
    assert resized.min() >= 0 and resized.max() <= 255
    assert np.array_equal(resized, np.round(resized))


def test_a_long_thin_picture_is_searched_in_tiles(astronaut):
    """A 512-px-wide strip 16 times as tall (and the same lying down): the face is found where it was put, once,
    though scaling the whole strip to the detection side would leave it 30 pixels wide."""
    tall, wide = np.full((8192, 512, 3), 200, np.uint8), np.full((512, 8192, 3), 200, np.uint8)
    tall[5000:5512], wide[:, 5000:5512] = astronaut, astronaut
    for picture, along in ((tall, 1), (wide, 0)):
        faces = recipe_detector().detect(picture)
        assert len(faces) == 1
        assert 5000 <= faces[0].box[along] and faces[0].box[along] + faces[0].box[along + 2] <= 5512
        assert all(5000 <= point[along] <= 5512 for point in faces[0].landmarks)
