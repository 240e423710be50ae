"""Where each object of a recording lives in storage: the key layout, in one place.

    app/recordings/<recording id>/                                   everything of one recording
    app/recordings/<recording id>/<artifact id>/recording_<id>.<ext> an uploaded video
    app/recordings/<recording id>/analysis/<job id>/frame-0000.jpg   an analysis's thumbnails

Deleting a recording deletes its prefix; each upload gets a key of its own, so racing uploads
never overwrite each other.
"""

from __future__ import annotations

import uuid

EXTENSIONS = {"video/webm": "webm", "video/mp4": "mp4", "video/quicktime": "mov"}


def recording_prefix(recording_id: uuid.UUID) -> str:
    """Every object of a recording (videos, thumbnails) lives under this prefix."""
    return f"app/recordings/{recording_id}/"


def video_key(recording_id: uuid.UUID, artifact_id: str, content_type: str) -> str:
    """The key of one uploaded video."""
    extension = EXTENSIONS.get(content_type, "bin")
    return f"{recording_prefix(recording_id)}{artifact_id}/recording_{recording_id}.{extension}"


def thumbnail_key(recording_id: uuid.UUID, analysis_id: str, position: int) -> str:
    """The key of the thumbnail of an analysis's ``position``-th frame."""
    return f"{recording_prefix(recording_id)}analysis/{analysis_id}/frame-{position:04d}.jpg"
