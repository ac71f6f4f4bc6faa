"""A tab's result panel: its components (``ResultPanel``) and what a handler fills them with (``Result``), field by
field in the endpoints' output order; the heatmap toggle and gallery every tab shares."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import gradio as gr

from model.explain import LEGEND
from ui.styles import RESULT_GALLERY

RESULT_HELP = ("Fake probability is the model's calibrated estimate that a face was manipulated. The verdict "
               "compares the most suspicious face with two thresholds chosen on held-out faces: **Likely fake** above "
               "the upper one, **Likely real** below the lower one, **Uncertain** in between, where the model was "
               "too often wrong to say. Faces that are small or heavily compressed are flagged as weak evidence.")


def heatmap_toggle(prefix: str) -> gr.Checkbox:
    """Whether heatmaps are computed (on by default; off is a little faster)."""
    return gr.Checkbox(True, label="Show where the model looked (heatmaps)", elem_id=f"{prefix}-explain")


def heatmap_component(prefix: str, columns: int = 4, height: int = 240) -> gr.Gallery:
    """The gallery of heatmap overlays, with its one-line legend."""
    gallery = gr.Gallery(label="Where the model looked", columns=columns, fit_columns=False, height=height,
                         object_fit="contain", elem_id=f"{prefix}-heatmaps", elem_classes=[RESULT_GALLERY])
    gr.Markdown(LEGEND, elem_id=f"{prefix}-heatmap-legend")
    return gallery


@dataclass(frozen=True)
class Result:
    """What a result panel shows, field by field; the fields' order is the endpoints' output order."""

    verdict: str
    confidence: dict[str, float] | None
    picture: Any  # the picture with its faces boxed (a file), or a clip's fake probability over time
    crops: list[tuple[str, str]]
    report_file: str
    report_json: str
    heatmaps: list[tuple[str, str]]

    def values(self) -> list[Any]:
        return [getattr(self, field.name) for field in fields(self)]

    @classmethod
    def unchanged(cls) -> list[Any]:
        return [gr.skip()] * len(fields(cls))


@dataclass(frozen=True)
class ResultPanel:
    """The components of one tab's result, one per ``Result`` field: the Image and Webcam tabs show the boxed
    picture beside the verdict, the Video tab the fake probability over time."""

    verdict: gr.Markdown
    confidence: gr.Label
    picture: gr.components.Component
    crops: gr.Gallery
    report_file: gr.File
    report_json: gr.Code
    heatmaps: gr.Gallery

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [getattr(self, field.name) for field in fields(self)]

    @classmethod
    def build(cls, prefix: str, clip: bool = False) -> ResultPanel:
        columns, height = (5, 260) if clip else (6, 150)
        with gr.Row() if not clip else gr.Column():
            with gr.Column(scale=2):
                verdict = gr.Markdown(label="Verdict", elem_id=f"{prefix}-verdict")
                # No heading: the top class ("real 62 %") would read as a verdict beside an "Uncertain" one.
                confidence = gr.Label(label="Calibrated probability (fake vs real)", show_heading=False,
                                      elem_id=f"{prefix}-confidence")
            if clip:
                picture = gr.LinePlot(x="time (s)", y="fake probability", color="series", y_lim=[0, 1],
                                      label="Fake probability over time", elem_id=f"{prefix}-plot",
                                      color_map={"fake probability": "#dc2626", "fake threshold": "#6b7280",
                                                 "real threshold": "#16a34a"})
            else:
                picture = gr.Image(label="Faces found", show_label=False, type="filepath", interactive=False,
                                   scale=3, elem_id=f"{prefix}-boxed")
        crops = gr.Gallery(label="Sampled face crops" if clip else "Face crops", columns=columns, fit_columns=False,
                           height=height, object_fit="contain", elem_id=f"{prefix}-crops",
                           elem_classes=[RESULT_GALLERY])
        heatmaps = heatmap_component(prefix, columns=columns if clip else 4, height=250 if clip else 240)
        with gr.Accordion("JSON report", open=False):
            report_file = gr.File(label="Download", elem_id=f"{prefix}-report-file")
            report_json = gr.Code(label="Report", language="json", interactive=False, buttons=["copy"],
                                  elem_id=f"{prefix}-report-json")
        return cls(verdict, confidence, picture, crops, report_file, report_json, heatmaps)
