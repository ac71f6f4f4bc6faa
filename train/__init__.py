"""Training package: data pipelines, training and evaluation CLIs. Architectures and preprocessing come from ``model``."""
