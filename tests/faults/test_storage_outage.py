"""S3 stops in the middle of an upload: a plain, retryable error, nothing marked uploaded, and
the upload works again once storage is back."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path

from tests.conftest import Backends, s3_client
from tests.support import services
from tests.support.factories import BASE, bearer, create

MiB = 1024 * 1024


async def test_storage_stopping_mid_upload_is_a_plain_retryable_error(backends: Backends, http, db):
    workdir = Path(tempfile.mkdtemp(dir=backends.workdir, prefix="s3-outage-"))
    bucket = f"recordings-{secrets.token_hex(4)}"
    alice = bearer(backends.jwt_secret, "alice")
    with services.own_s3() as s3:
        s3_client(s3.url).create_bucket(Bucket=bucket)
        env = {
            "RECORDINGS_DATABASE_URL": backends.database_url,
            "RECORDINGS_REDIS_URL": backends.redis_url,
            "RECORDINGS_JWT_SECRET": backends.jwt_secret,
            "RECORDINGS_ENVIRONMENT": "test",
            "RECORDINGS_QUEUE_NAME": f"recordings-s3-outage:{secrets.token_hex(4)}",
            "RECORDINGS_STORAGE": "s3",
            "RECORDINGS_S3_ENDPOINT_URL": s3.url,
            "RECORDINGS_S3_BUCKET": bucket,
            "RECORDINGS_S3_ACCESS_KEY_ID": "test",
            "RECORDINGS_S3_SECRET_ACCESS_KEY": "test",
            "RECORDINGS_S3_PART_SIZE": str(5 * MiB),
            "RECORDINGS_DATA_DIR": str(workdir / "var"),
        }
        with services.api_server(env, cwd=workdir) as (url, _):
            created = await create(http, url, headers=alice)
            rid = created["recordingId"]
            size = 12 * MiB

            async def body():  # type: ignore[no-untyped-def]
                yield b"v" * (6 * MiB)  # the first part goes to storage...
                await asyncio.sleep(1.0)
                await asyncio.to_thread(s3.stop)  # ... then storage goes away
                yield b"v" * (size - 6 * MiB)

            r = await http.put(
                f"{url}{BASE}/{rid}/video",
                content=body(),
                timeout=120,
                headers={**alice, "Content-Type": "video/webm", "Content-Length": str(size)},
            )
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"].isdigit()
            message = r.json()["error"]["message"]
            # Plain words: nothing of the endpoint, the bucket, the object key or the upload.
            for secret in (
                str(s3.port),
                "127.0.0.1",
                bucket,
                "app/recordings",
                "obj-",
                "upload",
                "Upload",
                "s3 ",
            ):
                assert secret not in message, (secret, message)
            detail = (await http.get(f"{url}{BASE}/{rid}", headers=alice)).json()
            assert detail["videoUploadStatus"] == "failed"
            assert (
                bucket not in detail["videoUploadError"]
                and str(s3.port) not in detail["videoUploadError"]
            )
            assert (
                await db.fetchval(
                    "SELECT count(*) FROM video_artifacts "
                    "WHERE recording_id = $1::uuid AND state = 'stored'",
                    rid,
                )
                == 0
            )

            s3.start()  # back, empty
            s3_client(s3.url).create_bucket(Bucket=bucket)
            r = await http.put(
                f"{url}{BASE}/{rid}/video",
                content=b"v" * size,
                timeout=120,
                headers={**alice, "Content-Type": "video/webm"},
            )
            assert r.status_code == 200, r.text
            assert (await http.get(f"{url}{BASE}/{rid}", headers=alice)).json()[
                "videoUploadStatus"
            ] == "uploaded"
        log = "\n".join(p.read_text() for p in workdir.glob("api-*.log"))
    assert "dependency.unavailable" in log and bucket in log  # the detail went to the log
