"""Train the image deepfake detector on face crops in the Real/Fake layout.

    python -m train.image --data ../shared/data/dfdc-faces --out runs/image
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model.architectures import IMAGE_ARCHITECTURES, build_image_model
from model.preprocessing import IMAGE_SIZE
from model.store import load_model, save_model
from train.common import add_common_flags, command_line, compile_binary, fit, make_strategy
from train.data import image_dataset, load_splits
from train.evaluate import predict_images, write_report
from train.metrics import choose_threshold


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.image", description=__doc__.splitlines()[0])
    add_common_flags(parser, epochs=30, batch_size=32, lr=1e-3)
    parser.add_argument("--image-size", type=int, default=IMAGE_SIZE)
    parser.add_argument("--architecture", choices=sorted(IMAGE_ARCHITECTURES), default="residual_cnn")
    parser.add_argument("--init-from", default=None, metavar="MODEL",
                        help="start from a saved image model's weights, e.g. model/weights/image_model.keras to "
                        "fine-tune the shipped model on your data (its architecture and image size are used)")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    try:
        splits = load_splits(args.data, args.val_split, args.seed, limit_per_class=args.limit_per_class)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    out = Path(args.out or "runs/image")
    out.mkdir(parents=True, exist_ok=True)
    for name, split in splits.items():
        print(f"{name}: {split.counts()}")

    start = load_model(args.init_from) if args.init_from else None
    if start is not None:
        args.architecture = start[1].get("architecture", args.architecture)
        args.image_size = int(start[1].get("image_size", args.image_size))
    strategy = make_strategy(args.strategy)
    with strategy.scope():
        model = build_image_model(args.architecture, args.image_size)
        if start is not None:
            model.set_weights(start[0].get_weights())
        compile_binary(model, args.lr)
    batch = args.batch_size * strategy.num_replicas_in_sync
    train_ds = image_dataset(splits["train"], args.image_size, batch, training=True, seed=args.seed)
    val_ds = image_dataset(splits["validation"], args.image_size, batch, training=False)
    model, summary = fit(model, train_ds, val_ds, splits["train"].labels, args, out)

    val = splits["validation"]
    threshold = choose_threshold(np.asarray(val.labels), predict_images(model, val, args.image_size))
    metadata = {
        "kind": "image", "architecture": args.architecture, "image_size": args.image_size,
        "threshold": threshold, "data": str(args.data), "command": command_line(parser, argv),
        "counts": {name: split.counts() for name, split in splits.items()}, **summary,
    }
    if "test" in splits:
        test = splits["test"]
        metadata["test_metrics"] = write_report(test.labels, predict_images(model, test, args.image_size),
                                                threshold, out, "test", f"{args.architecture} — test")
    path = save_model(model, out / "model.keras", metadata)
    print(json.dumps({"model": str(path), **metadata}, indent=2))


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    main()
