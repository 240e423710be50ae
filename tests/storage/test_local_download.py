"""Local storage: downloads through signed, expiring URLs the service serves, with Range support."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from app.auth import derived_key
from app.storage.local import LocalStorage
from tests.conftest import Api
from tests.support.factories import BASE, bearer, create, upload


@pytest.fixture
async def uploaded(local_api: Api, db, backends, http):
    alice = bearer(backends.jwt_secret, "alice")
    created = await create(http, local_api.url, headers=alice)
    data = bytes(range(256)) * 400
    assert (
        await upload(http, local_api.url, created["recordingId"], data, headers=alice)
    ).status_code == 200
    url = (
        await http.get(f"{local_api.url}{BASE}/{created['recordingId']}/video", headers=alice)
    ).json()["videoUrl"]
    return url, data


async def test_signed_url_downloads_the_video(uploaded, http):
    url, data = uploaded
    r = await http.get(url)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "video/webm"
    assert r.headers["accept-ranges"] == "bytes"


async def test_range_request_gets_a_slice(uploaded, http):
    url, data = uploaded
    r = await http.get(url, headers={"Range": "bytes=1000-1999"})
    assert r.status_code == 206
    assert r.content == data[1000:2000]
    assert r.headers["content-range"] == f"bytes 1000-1999/{len(data)}"


async def test_tampered_or_expired_links_are_refused(uploaded, http, local_api: Api, backends):
    url, _ = uploaded
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    key = parts.path.removeprefix("/api/storage/")
    bad_sig = parts._replace(query=urlencode(query | {"signature": "0" * 64})).geturl()
    assert (await http.get(bad_sig)).status_code == 404
    longer = parts._replace(
        query=urlencode(query | {"expires": str(int(query["expires"]) + 10)})
    ).geturl()
    assert (await http.get(longer)).status_code == 404
    # a correctly signed link whose time has passed
    signer = LocalStorage(
        local_api.data_dir / "objects",
        public_base_url=local_api.url,
        secret=derived_key(backends.jwt_secret.encode(), "download-url"),
        ttl_seconds=1,
    )
    past = int(time.time()) - 5
    expired = parts._replace(
        query=urlencode({"expires": past, "signature": signer.sign(key, past)})
    ).geturl()
    r = await http.get(expired)
    assert r.status_code == 404 and r.json()["error"]["code"] == "link_expired"
    fresh = int(time.time()) + 60
    ok = parts._replace(
        query=urlencode({"expires": fresh, "signature": signer.sign(key, fresh)})
    ).geturl()
    assert (await http.get(ok)).status_code == 200


async def test_keys_cannot_escape_the_data_directory(local_api: Api, backends, http):
    signer = LocalStorage(
        local_api.data_dir / "objects",
        public_base_url=local_api.url,
        secret=derived_key(backends.jwt_secret.encode(), "download-url"),
        ttl_seconds=60,
    )
    expires = int(time.time()) + 60
    key = "../dev-secret"
    r = await http.get(
        f"{local_api.url}/api/storage/..%2Fdev-secret"
        f"?expires={expires}&signature={signer.sign(key, expires)}"
    )
    assert r.status_code == 404
