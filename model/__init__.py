"""Inference package: image reading, face finding, preprocessing, architectures and scoring.

TensorFlow's settings live here, because they only count before TensorFlow is first imported; every entry point
(the app, the scan CLI, the trainers, the benchmarks, the tests) imports this package first. An explicit setting
in the environment wins.
"""

import os
from contextlib import contextmanager
from typing import Iterator

# 3: no TensorFlow/CUDA start-up noise ("failed call to cuInit" on machines without a GPU); real failures still
# raise Python exceptions. OpenCV's own warnings (``[ WARN ]`` lines of its video backends) go the same way.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# oneDNN's CPU kernels. TensorFlow turns them on by itself only on CPUs with AVX-512-class features; on the AVX2
# CPUs most people have (and this project's 2-core AMD machine) they are off; turning them on makes the image model
# train 2x and score faces 1.9x faster. Results differ from the plain kernels by float rounding only.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def load_tensorflow() -> None:
    """Import TensorFlow and Keras and initialise the devices with the process's stderr silenced.

    TensorFlow's C++ start-up lines (absl's "All log messages before absl::InitializeLog()", "Could not find cuda
    drivers", "failed call to cuInit" on machines without a GPU, the oneDNN notice) ignore ``TF_CPP_MIN_LOG_LEVEL``,
    so the command lines call this once, after parsing their arguments. Python errors still surface: the stream is
    restored before any exception propagates. ``DEEPFAKE_VERBOSE_TF=1`` keeps the lines.
    """
    import sys

    if "tensorflow" in sys.modules:
        import tensorflow  # noqa: F401
        return
    with silenced_stderr():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()


@contextmanager
def silenced_stderr() -> Iterator[None]:
    """The process's stderr (file descriptor 2, which C++ libraries write to) sent nowhere for the block, unless
    ``DEEPFAKE_VERBOSE_TF=1``; restored before any exception propagates."""
    import sys

    if os.environ.get("DEEPFAKE_VERBOSE_TF") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
