"""Training package: data pipelines, training and evaluation CLIs. Architectures and preprocessing come from ``model``."""

import model  # noqa: F401  (TensorFlow's settings, before anything here imports TensorFlow)
