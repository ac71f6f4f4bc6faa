"""The app's CSS (``APP_CSS``, given to ``launch``): each verdict's colour, the one of its boxes in ``ui.drawing``, for
the verdict headings of ``ui.wording``; and the phone layout of the result galleries, which carry the class
``RESULT_GALLERY``. Constants only: no functions, no files."""

from __future__ import annotations

from ui.drawing import VERDICT_RGB

VERDICT_CSS = "\n".join(f".verdict-{name} {{ color: rgb{rgb}; }}" for name, rgb in VERDICT_RGB.items())
# On a phone a result gallery's fixed columns (five or six of ~100 px) run off its right edge and its fixed height
# hides rows behind a scrollbar of its own: there, three columns as wide as the screen allows and every row shown.
RESULT_GALLERY = "result-gallery"
PHONE_CSS = f"""@media (max-width: 640px) {{
  .{RESULT_GALLERY} .grid-container {{ grid-template-columns: repeat(3, minmax(0, 1fr)) !important; }}
  .{RESULT_GALLERY}, .{RESULT_GALLERY} .grid-wrap {{ height: auto !important; max-height: none !important; }}
}}"""
APP_CSS = VERDICT_CSS + "\n" + PHONE_CSS
