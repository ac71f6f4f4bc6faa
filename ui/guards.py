"""Bad input answered in one sentence: a user's file, a component's own input checks and an API payload of the
wrong type each end in a short notification and no server-side traceback; anything unexpected is logged."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any

import gradio as gr

from model.imaging import InputError

log = logging.getLogger("app")


def sentence(message: str) -> str:
    """An InputError's fragment as one sentence for a notification."""
    message = message.strip() or "the file could not be analysed"
    return message[0].upper() + message[1:] + ("" if message.endswith((".", "!", "?")) else ".")


@contextmanager
def user_errors(kind: str):
    """Turn a bad input into one short sentence for the user; anything unexpected is logged, not shown."""
    try:
        yield
    except gr.Error:
        raise
    except InputError as error:
        raise gr.Error(sentence(str(error)), print_exception=False) from None
    except Exception:
        log.exception("analysing a %s failed", kind)
        raise gr.Error(f"Something went wrong while analysing this {kind}. Please try another file.",
                       print_exception=False) from None


def guarded(component: gr.components.Component, reader=None) -> gr.components.Component:
    """Make a component's input checks end in one short sentence and no server-side traceback.

    gr.Image opens uploads with PIL and gr.Radio checks its choices before any handler runs; ``reader``, such as
    read_image, gives the precise reason when preprocessing fails. The instance's method is wrapped because a
    component subclass would make Gradio write a .pyi file beside this one.
    """
    preprocess = component.preprocess

    def checked(payload):
        try:
            return preprocess(payload)
        except gr.Error as error:
            error.print_exception = False
            raise
        except Exception:
            message = "this input could not be read"
            try:
                if reader is not None:
                    reader(payload.path)
            except InputError as error:  # empty, too large, not an image...
                message = str(error)
            except Exception:
                pass
            raise gr.Error(sentence(message), print_exception=False) from None

    component.preprocess = checked
    return component


def payload_problem(payload: Any) -> str:
    """Why an API payload is not a file the app can read, in one sentence that says what to send instead."""
    how = "send files with gradio_client.handle_file(path_or_url)"
    if isinstance(payload, str):
        return f"A bare text string is not a file: {how}"
    if isinstance(payload, dict) and (payload.get("url") or payload.get("path")):
        name = payload.get("orig_name") or payload.get("url") or payload.get("path")
        return f"The file {name} could not be fetched or read"
    return f"Expected an image or video file, got {type(payload).__name__}: {how}"


def guard_api_payloads(demo: gr.Blocks) -> None:
    """Payloads of the wrong type (a path string instead of ``handle_file``, a number, a URL that cannot be
    fetched) fail in Gradio's own input handling, before any component or handler: answer them with one sentence
    and no server-side traceback, as bad files are. The instance's method is wrapped, like ``guarded``'s."""
    preprocess = demo.preprocess_data

    async def checked(block_fn, inputs, state, explicit_call=False):
        try:
            return await preprocess(block_fn, inputs, state, explicit_call)
        except gr.Error as error:
            error.print_exception = False
            raise
        except Exception:
            files = [value for value, block in zip(inputs, block_fn.inputs)
                     if isinstance(block, (gr.Image, gr.Video, gr.File))]
            raise gr.Error(sentence(payload_problem(files[0] if files else None)), print_exception=False) from None

    demo.preprocess_data = checked
