"""Networks run by TensorFlow Lite's CPU kernels (XNNPACK) instead of TensorFlow's graph: the same outputs (within
float rounding, about 1e-6) in about a quarter of the time a face on two cores for an image model's network, and in
about half the time for MTCNN's three (``model.faces``). Serving scores and finds faces this way; Grad-CAM, training
and evaluation keep the Keras image network.

Converting takes a few seconds, so it is done once per weights file and TensorFlow version and kept in the user's
cache folder (``DEEPFAKE_DETECTOR_CACHE``, else ``$XDG_CACHE_HOME/deepfake-detector``, else
``~/.cache/deepfake-detector``); where converting fails, the Keras network runs, as before."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import warnings
from collections import OrderedDict
from contextlib import redirect_stdout
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from model import silenced_stderr

CACHE_ENV = "DEEPFAKE_DETECTOR_CACHE"
log = logging.getLogger(__name__)


def cache_folder() -> Path:
    """Where converted networks are kept."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "deepfake-detector"


def fast_outputs(network: keras.Model, weights_file: str | Path | None, shapes_kept: int = 1
                 ) -> Callable[[np.ndarray], list[np.ndarray]]:
    """``network``'s outputs (in its own order) for a batch of inputs, run by TensorFlow Lite where it converts (from
    the cache when ``weights_file``, the file ``network``'s weights came from, was converted before; an interpreter
    kept for each of the last ``shapes_kept`` input shapes), else by the Keras network itself as a graph."""
    try:
        return TfliteNetwork(converted(network, weights_file), shapes_kept)
    except Exception as error:  # any converter or interpreter failure: the Keras network still computes correctly
        log.warning("TensorFlow Lite could not run %s (%s); running it with Keras instead", network.name, error)
        spec = tf.TensorSpec((None, *network.input_shape[1:]), tf.float32)
        keras_call = tf.function(lambda inputs: network(inputs, training=False), input_signature=[spec])
        return lambda inputs: [np.asarray(output) for output in
                               tf.nest.flatten(keras_call(tf.convert_to_tensor(inputs, tf.float32)))]


# Faces an image network takes a call: 40 faces in calls of 2 to 4 took 195 ms, in one call 239 ms (EfficientNet-Lite0
# at 224 px, 2 cores), and an interpreter's memory grows with its batch.
FACES_PER_CALL = 4


def fast_network(network: keras.Model, weights_file: str | Path | None) -> Callable[[np.ndarray], np.ndarray]:
    """An image network's fake probabilities for a batch of faces (n, size, size, 3), as ``fast_outputs`` runs it,
    ``FACES_PER_CALL`` faces a call."""
    outputs = fast_outputs(network, weights_file, shapes_kept=FACES_PER_CALL)

    def probabilities(faces: np.ndarray | tf.Tensor) -> np.ndarray:
        faces = np.asarray(faces, np.float32)
        return np.concatenate([outputs(faces[start:start + FACES_PER_CALL])[0]
                               for start in range(0, max(len(faces), 1), FACES_PER_CALL)])

    return probabilities


def cache_file(weights_file: str | Path) -> Path:
    """Where the converted form of ``weights_file`` is kept: named by the file's bytes and TensorFlow's version."""
    digest = hashlib.sha256(Path(weights_file).read_bytes() + tf.__version__.encode()).hexdigest()[:24]
    return cache_folder() / f"{Path(weights_file).stem}-{digest}.tflite"


def converted(network: keras.Model, weights_file: str | Path | None) -> bytes:
    """The TensorFlow Lite form of ``network``: read from the cache, or converted now (and cached when it came from
    ``weights_file``; a cache that cannot be written is skipped)."""
    cached = None if weights_file is None else cache_file(weights_file)
    if cached is not None and cached.exists():
        return cached.read_bytes()
    with silenced_stderr(), redirect_stdout(io.StringIO()):  # Keras lists the exported signature on stdout
        flat = tf.lite.TFLiteConverter.from_keras_model(network).convert()
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.partial")
            partial.write_bytes(flat)
            partial.replace(cached)  # whole or absent: another process may be reading it
        except OSError as error:
            log.info("converted network not cached (%s)", error)
    return flat


class TfliteNetwork:
    """A converted network with an interpreter sized for each input shape it meets (the batch, or a fully
    convolutional network's picture size: MTCNN's P-Net sees every level of a picture pyramid), the last
    ``shapes_kept`` of them kept (sizing an interpreter again costs more than a small network's call; an image
    network keeps one per batch size up to ``FACES_PER_CALL``); one call at a time (interpreters are not
    thread-safe)."""

    def __init__(self, flat: bytes, shapes_kept: int = 1) -> None:
        self._flat, self._shapes_kept = flat, shapes_kept
        self._lock = threading.Lock()
        first = self._made(None)
        details = first.get_input_details()[0]
        self._input = details["index"]
        self._interpreters = OrderedDict({tuple(int(side) for side in details["shape"]): first})
        # The converter names the network's outputs "...:0", "...:1" in the network's order, not in its list's.
        self._outputs = [detail["index"] for detail in sorted(first.get_output_details(),
                                                             key=lambda detail: _output_number(detail["name"]))]

    def __call__(self, inputs: np.ndarray | tf.Tensor) -> list[np.ndarray]:
        inputs = np.asarray(inputs, np.float32)
        with self._lock:
            interpreter = self._interpreter(inputs.shape)
            interpreter.set_tensor(self._input, inputs)
            interpreter.invoke()
            return [interpreter.get_tensor(output).copy() for output in self._outputs]

    def _interpreter(self, shape: tuple[int, ...]) -> tf.lite.Interpreter:
        """The interpreter sized for ``shape``, made now if it is not kept."""
        if shape in self._interpreters:
            self._interpreters.move_to_end(shape)
            return self._interpreters[shape]
        interpreter = self._interpreters[shape] = self._made(shape)
        while len(self._interpreters) > self._shapes_kept:
            self._interpreters.popitem(last=False)
        return interpreter

    def _made(self, shape: tuple[int, ...] | None) -> tf.lite.Interpreter:
        """A new interpreter, sized for ``shape`` (``None``: the shape the network was converted with)."""
        with warnings.catch_warnings(), silenced_stderr():  # the deprecation notice, XNNPACK's "created" line
            warnings.simplefilter("ignore")
            interpreter = tf.lite.Interpreter(model_content=self._flat, num_threads=os.cpu_count() or 1)
            if shape is not None:
                interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], shape)
            interpreter.allocate_tensors()
        return interpreter


def _output_number(name: str) -> int:
    """The place of a converted network's output in the network's own order, from its name ("...:1" → 1)."""
    number = name.rpartition(":")[2]
    return int(number) if number.isdigit() else 0
