"""Deepfake detector web app: Image, Webcam and Video tabs, the model card, and two API endpoints.

    python app.py [--host 0.0.0.0] [--port 7860] [--share] [--image-model PATH] [--video-model PATH]

Wiring only: the tabs and their handlers are in ui/tabs.py, what a result says and shows in ui/ (wording, charts,
galleries, json_report; the CSS in styles), detection in model/. The command line is parsed before TensorFlow and
Gradio load (tens of seconds on a small CPU), so ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from model.imaging import MAX_FILE_BYTES
from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL
from ui.report_folders import FILES_KEPT_S
from ui.upload_quota import DEFAULT_CLIENT_MB, TOTAL_SHARE, UploadQuota

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no version check or telemetry calls at start

ON_SPACES = bool(os.getenv("SPACE_ID"))
UPLOAD_LIFETIME = (300, FILES_KEPT_S)  # (every, older than) seconds: Gradio's cache of uploads and results
log = logging.getLogger("app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=None,
                        help="interface to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=None,
                        help="port (default: $GRADIO_SERVER_PORT or the first free one from 7860)")
    parser.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    parser.add_argument("--image-model", default=os.getenv("DEEPFAKE_IMAGE_MODEL", str(DEFAULT_IMAGE_MODEL)),
                        help="the .keras image model (default: $DEEPFAKE_IMAGE_MODEL or the shipped one)")
    parser.add_argument("--video-model", default=os.getenv("DEEPFAKE_VIDEO_MODEL", str(DEFAULT_VIDEO_MODEL)),
                        help="the .keras video model (default: $DEEPFAKE_VIDEO_MODEL or the shipped one)")
    parser.add_argument("--concurrency", type=int, default=int(os.getenv("DEEPFAKE_CONCURRENCY", "2")),
                        help="analyses run at the same time; the rest wait in the queue (default 2)")
    parser.add_argument("--queue-size", type=int, default=64, help="most requests waiting in the queue")
    parser.add_argument("--max-file-mb", type=float, default=MAX_FILE_BYTES / 2**20,
                        help="largest upload in MB (default %(default).0f)")
    parser.add_argument("--upload-quota-mb", type=float, default=DEFAULT_CLIENT_MB,
                        help=f"most MB one client may upload in {FILES_KEPT_S // 60} minutes (the server takes "
                        f"{TOTAL_SHARE} times that from everyone; default %(default).0f)")
    return parser.parse_args(argv)


def upload_quota(args: argparse.Namespace):
    """The upload route's quota (Starlette middleware): ``--upload-quota-mb`` per client, ``TOTAL_SHARE`` times
    that for everyone."""
    from starlette.middleware import Middleware

    per_client = int(args.upload_quota_mb * 2**20)
    return Middleware(UploadQuota, per_client_bytes=per_client, total_bytes=per_client * TOTAL_SHARE,
                      behind_proxy=ON_SPACES)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    import model

    model.load_tensorflow()
    from ui.guards import guard_api_payloads
    from ui.report_folders import open_report_dir
    from ui.styles import APP_CSS
    from ui.tabs import build_demo, start_services

    try:
        services = start_services(args.image_model, args.video_model, open_report_dir())
    except (FileNotFoundError, ValueError, OSError) as error:
        print(f"app.py: cannot load the models: {error}\n"
              "The shipped ones are in model/weights/ (a clone made without git-lfs needs `git lfs pull`); "
              "--image-model and --video-model choose others.", file=sys.stderr)
        return 2
    demo = build_demo(services, args.image_model, args.video_model, delete_cache=UPLOAD_LIFETIME)
    guard_api_payloads(demo)
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    if args.share and ON_SPACES:
        log.info("--share is ignored on Hugging Face Spaces: the Space already has a public address")
    log.info("image model %s ready; loading the video path in the background", services.image.scorer.name)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share and not ON_SPACES,
                max_file_size=f"{args.max_file_mb:g}mb", show_error=False, run_history=False,
                css=APP_CSS, app_kwargs={"middleware": [upload_quota(args)]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
