"""What runs inside the worker's engine process: one warm :class:`Engine`, progress to Redis.

The process is spawned (not forked) by the worker (``workers.engine_pool``); it loads the
models once, so every analysis after the first runs warm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2

from app.analysis.events import ProgressPublisher, ProgressTarget
from app.pipeline import AnalysisDocument, MediaInputError, PipelineError

_engine: Any = None

THUMBNAIL_WIDTH = 480


@dataclass(frozen=True, kw_only=True, slots=True)
class EngineOutcome:
    result: AnalysisDocument | None = None
    thumbnails: list[bytes | None] | None = None
    error: str | None = None  # the input's fault (or, with ``internal``, a bug): not retried
    internal: bool = False
    versions: dict[str, str] | None = None


def init_process() -> None:
    """Pool initializer: load the models once for this process."""
    global _engine
    from app.config import Settings
    from app.pipeline import Engine

    # The worker's own environment: the same RECORDINGS_* settings it was started with.
    _engine = Engine(Settings().engine_options()).ready()


def engine_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {}
    for package in (
        "recordings",
        "av",
        "opencv-python-headless",
        "faster-whisper",
        "tesserocr",
        "rapidocr",
    ):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            continue
    return versions


def run_analysis(
    video_path: str, meta: dict[str, Any], *, progress: ProgressTarget
) -> EngineOutcome:
    """Analyse one video; progress is published as it goes. Input errors come back as values."""
    if _engine is None:
        init_process()
    publisher = ProgressPublisher(progress)
    try:
        result = _engine.analyze(video_path, meta, publisher)
    except MediaInputError as exc:
        return EngineOutcome(error=exc.reason)
    except PipelineError as exc:
        return EngineOutcome(error=f"analysis failed: {exc.reason}")
    finally:
        publisher.close()
    # One thumbnail per described frame, in the order of the document's frames.
    images = {kf.index: kf.image for kf in result.keyframes}
    thumbnails = [_thumbnail(images.get(frame.keyframe_index)) for frame in result.frames]
    return EngineOutcome(
        result=result.document(), thumbnails=thumbnails, versions=engine_versions()
    )


def _thumbnail(image: Any) -> bytes | None:
    if image is None:
        return None
    height, width = image.shape[:2]
    if width > THUMBNAIL_WIDTH:
        image = cv2.resize(
            image,
            (THUMBNAIL_WIDTH, max(1, round(height * THUMBNAIL_WIDTH / width))),
            interpolation=cv2.INTER_AREA,
        )
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return encoded.tobytes() if ok else None
