"""The CORS rule a bucket needs for browsers to upload to it directly.

With S3 storage, create answers a presigned URL and the recorder PUTs the video there: a page on
another origin may do that only if the bucket allows it. The rule allows the API's CORS origins
to PUT (the upload) and GET/HEAD (playback of presigned download URLs), with the headers a
presigned PUT carries. ``recordings bucket-cors`` prints it, or applies it with ``--apply``.
"""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.cors import MAX_AGE_SECONDS


def bucket_cors_rules(settings: Settings) -> dict[str, Any]:
    """The bucket's CORS configuration, in the shape of S3's PutBucketCors."""
    return {
        "CORSRules": [
            {
                "AllowedOrigins": list(settings.cors_origins),
                "AllowedMethods": ["PUT", "GET", "HEAD"],
                "AllowedHeaders": ["Content-Type", "Content-Length", "Range"],
                "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
                "MaxAgeSeconds": MAX_AGE_SECONDS,
            }
        ]
    }
