"""Video storage: one interface (:class:`Storage`), an S3 and a local-files backend."""

from __future__ import annotations

from app.config import Settings
from app.storage.base import ObjectInfo, PresignedUpload, Storage, StorageError

__all__ = ["ObjectInfo", "PresignedUpload", "Storage", "StorageError", "make_storage"]


def make_storage(settings: Settings) -> Storage:
    """The backend the settings name."""
    if settings.storage == "s3":
        from app.storage.s3 import S3Storage

        return S3Storage(settings)
    from app.auth import derived_key
    from app.storage.local import LocalStorage

    return LocalStorage(
        settings.data_dir / "objects",
        public_base_url=settings.public_base_url,
        secret=derived_key(settings.secret_for_signing(), "download-url"),
        ttl_seconds=settings.presign_ttl_seconds,
    )
