"""Optional vision-model adapter: enrich keyframe descriptions through an
OpenAI-compatible chat-completions service that accepts image input.

The grounded description stays first; the model's sentence is appended and
marked as the model's, so nothing it says replaces a measurement.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Sequence

import cv2
import numpy as np

from app.pipeline.models.llm import ChatClient, ChatError
from app.pipeline.reasoning.describe import FrameDescription
from app.pipeline.types import Keyframe

log = logging.getLogger(__name__)

_PROMPT = (
    "This is a frame of a browser session recording. Known facts: {facts}\n"
    "In one or two sentences, describe what the page shows and any visible error, dialog or "
    "message. Do not guess beyond what is visible."
)


def _data_url(image: np.ndarray, max_width: int = 1024) -> str:
    if image.shape[1] > max_width:
        scale = max_width / image.shape[1]
        image = cv2.resize(
            image, (max_width, int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ChatError("could not encode the frame")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def describe_frame(client: ChatClient, image: np.ndarray, facts: str) -> str:
    """The model's short description of one frame; raises ChatError."""
    reply = client.complete(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": _PROMPT.format(facts=facts)},
                    {"type": "image_url", "image_url": {"url": _data_url(image)}},
                ],
            }
        ]
    )
    return " ".join(reply.split())[:400]


def _priority(description: FrameDescription) -> tuple[int, float]:
    # Frames with error styling or a new view first; then in time order.
    return (
        0 if description.error_styled else 1 if description.major_change else 2,
        description.timestamp,
    )


def enrich_descriptions(
    client: ChatClient,
    keyframes: Sequence[Keyframe],
    descriptions: Sequence[FrameDescription],
    max_frames: int,
) -> list[FrameDescription]:
    """Append the model's sentence to up to ``max_frames`` descriptions.

    A failing service leaves the descriptions as they were.
    """
    by_index = {kf.index: kf for kf in keyframes}
    chosen = {d.keyframe_index for d in sorted(descriptions, key=_priority)[:max_frames]}
    out: list[FrameDescription] = []
    failed = False
    for description in descriptions:
        keyframe = by_index.get(description.keyframe_index)
        if failed or keyframe is None or description.keyframe_index not in chosen:
            out.append(description)
            continue
        try:
            sentence = describe_frame(client, keyframe.image, description.text)
        except ChatError as exc:
            log.warning("vision model unavailable, keeping grounded descriptions: %s", exc)
            failed = True
            out.append(description)
            continue
        text = f"{description.text} Model: {sentence}" if sentence else description.text
        out.append(dataclasses.replace(description, text=text))
    return out
