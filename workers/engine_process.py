"""What runs inside the worker's engine process: one warm :class:`Engine`, progress to Redis.

The process is spawned (not forked) by the worker's process pool; its initializer loads the
models once, so every analysis after the first runs warm.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import cv2
import redis

from app.analysis.progress import AnalysisProgress, OverallProgress, publish_sync
from app.pipeline import MediaInputError, PipelineError

_engine: Any = None

THUMBNAIL_WIDTH = 480
PUBLISH_INTERVAL_S = 0.25  # throttle: a few events per second


@dataclass(frozen=True, kw_only=True, slots=True)
class EngineOutcome:
    result: dict[str, Any] | None = None
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
    video_path: str,
    meta: dict[str, Any],
    *,
    recording_id: str,
    job_id: str,
    redis_url: str,
    owner: str | None,
) -> EngineOutcome:
    """Analyse one video; progress is published as it goes. Input errors come back as values."""
    if _engine is None:
        init_process()
    client = redis.Redis.from_url(redis_url)
    overall = OverallProgress()
    last_sent = [0.0]
    stages_seen: set[str] = set()

    def progress(stage: str, fraction: float, message: str) -> None:
        value = overall.update(stage, fraction)
        now = time.monotonic()
        # A few events per second in all, but always a stage's first and last word.
        milestone = stage not in stages_seen or fraction >= 1.0
        stages_seen.add(stage)
        if not milestone and now - last_sent[0] < PUBLISH_INTERVAL_S:
            return
        last_sent[0] = now
        try:
            publish_sync(
                client,
                AnalysisProgress(
                    recording_id=recording_id,
                    job_id=job_id,
                    status="analyzing",
                    stage=stage,
                    progress=round(value, 4),
                    message=message,
                ),
                owner=owner,
            )
        except redis.RedisError:
            pass  # progress is best effort; the result is what matters

    try:
        result = _engine.analyze(video_path, meta, progress)
    except MediaInputError as exc:
        return EngineOutcome(error=exc.reason)
    except PipelineError as exc:
        return EngineOutcome(error=f"analysis failed: {exc.reason}")
    finally:
        client.close()
    # One thumbnail per described frame, in the order of ``to_dict()["frames"]``.
    images = {kf.index: kf.image for kf in result.keyframes}
    thumbnails = [_thumbnail(images.get(frame.keyframe_index)) for frame in result.frames]
    return EngineOutcome(result=result.to_dict(), thumbnails=thumbnails, versions=engine_versions())


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
