"""Inference package: image reading, face finding, preprocessing, architectures and scoring."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
