"""What a refactor must not change: the documents the service and the CLI give for the fixtures.

For each fixture file (two scenarios, WebM and MP4) it analyses the recording through a real
API and worker and through ``recordings analyze``, and keeps four documents: REST ``/analysis``
and ``/summary``, the GraphQL ``recording { analysis {...} summary {...} }`` result and the
CLI's JSON. Run-to-run values (ids, times measured, signed URLs) are replaced by placeholders.

    python bench/documents.py --save DIR      # before a change
    python bench/documents.py --compare DIR   # after it: prints every difference, exits 1 if any

PostgreSQL and Redis come from RECORDINGS_TEST_DATABASE_URL / RECORDINGS_TEST_REDIS_URL, or are
started embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import services
from tests.support.factories import BASE, DATA, bearer, create_body

FILES = [
    (scenario, video)
    for scenario in ("upgrade-checkout", "login-500")
    for video in ("recording.webm", "recording.mp4")
]

GRAPHQL = """query($id: ID!) { recording(id: $id) { status
  analysis { status stage progress error
    sections { title timestamp endTimestamp description
      citations { type timestamp evidenceId detail } }
    frames { timestamp description text thumbnailUrl }
    transcript { start end text }
    findings { kind title severity timestamp confidence evidenceIds data } }
  summary { summary keyFindings } } }"""

# Values that differ from run to run, whatever the code: replaced, not compared.
VOLATILE = {
    "jobId",
    "timings",
    "createdAt",
    "finishedAt",
    "recordingId",
    "engineVersions",
    "elapsed",
}
URLS = {"thumbnailUrl", "videoUrl"}


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in VOLATILE:
                out[key] = "<volatile>"
            elif key in URLS:
                out[key] = "<url>" if item else item
            else:
                out[key] = normalised(item)
        return out
    if isinstance(value, list):
        return [normalised(v) for v in value]
    if isinstance(value, float):
        return round(value, 3)
    return value


async def through_the_service(url: str, secret: str, scenario: str, video: str) -> dict[str, Any]:
    headers = bearer(secret, "documents")
    async with httpx.AsyncClient(timeout=120) as http:
        created = (await http.post(url + BASE, json=create_body(scenario), headers=headers)).json()
        rid = created["recordingId"]
        content_type = "video/mp4" if video.endswith(".mp4") else "video/webm"
        r = await http.put(
            f"{url}{BASE}/{rid}/video",
            content=(DATA / scenario / video).read_bytes(),
            headers={**headers, "Content-Type": content_type},
        )
        r.raise_for_status()
        (await http.post(f"{url}{BASE}/{rid}/analyze", headers=headers)).raise_for_status()
        deadline = time.monotonic() + 600
        while (await http.get(f"{url}{BASE}/{rid}", headers=headers)).json()[
            "status"
        ] == "analyzing":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{scenario}/{video} did not finish")
            await asyncio.sleep(0.5)
        analysis = (await http.get(f"{url}{BASE}/{rid}/analysis", headers=headers)).json()
        summary = (await http.get(f"{url}{BASE}/{rid}/summary", headers=headers)).json()
        graphql = (
            await http.post(
                url + "/graphql", json={"query": GRAPHQL, "variables": {"id": rid}}, headers=headers
            )
        ).json()
    return {"rest_analysis": analysis, "rest_summary": summary, "graphql": graphql}


def through_the_cli(scenario: str, video: str, work: Path) -> Any:
    out = work / f"{scenario}-{video}.json"
    meta = work / f"{scenario}-create.json"
    meta.write_text(json.dumps(create_body(scenario)))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "analyze",
            str(DATA / scenario / video),
            "--meta",
            str(meta),
            "--out",
            str(out),
        ],
        check=True,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    return json.loads(out.read_text())


def collect(work: Path) -> dict[str, Any]:
    documents: dict[str, Any] = {}
    with (
        services.postgres_server(work) as pg_server,
        services.redis_server(work) as redis_url,
        services.fresh_database(pg_server) as database_url,
    ):
        secret = secrets.token_urlsafe(24)
        env = {
            "RECORDINGS_DATABASE_URL": database_url,
            "RECORDINGS_REDIS_URL": redis_url,
            "RECORDINGS_JWT_SECRET": secret,
            "RECORDINGS_DATA_DIR": str(work / "var"),
            "RECORDINGS_QUEUE_NAME": f"recordings-documents:{secrets.token_hex(4)}",
        }
        with services.api_server(env, cwd=work) as (url, _), services.worker_process(env, cwd=work):
            for scenario, video in FILES:
                name = f"{scenario}-{video.split('.')[-1]}"
                found = asyncio.run(through_the_service(url, secret, scenario, video))
                found["cli"] = through_the_cli(scenario, video, work)
                documents[name] = normalised(found)
                print(f"{name}: analysed", file=sys.stderr)
    return documents


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    if type(before) is not type(after):
        return [f"{path}: {before!r} -> {after!r}"]
    if isinstance(before, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            if key not in after:
                found.append(f"{path}.{key}: removed")
            elif key not in before:
                found.append(f"{path}.{key}: added ({json.dumps(after[key])[:80]})")
            else:
                found += differences(before[key], after[key], f"{path}.{key}")
        return found
    if isinstance(before, list):
        found = (
            [f"{path}: {len(before)} items -> {len(after)}"] if len(before) != len(after) else []
        )
        for i, (b, a) in enumerate(zip(before, after, strict=False)):
            found += differences(b, a, f"{path}[{i}]")
        return found
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the documents into this folder")
    group.add_argument(
        "--compare", type=Path, help="compare with the documents saved in this folder"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        documents = collect(Path(tmp))
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for name, document in documents.items():
            (args.save / f"{name}.json").write_text(
                json.dumps(document, indent=1, sort_keys=True) + "\n"
            )
        print(f"saved {len(documents)} files' documents in {args.save}")
        return
    found = []
    for name, document in documents.items():
        saved = json.loads((args.compare / f"{name}.json").read_text())
        found += [f"{name}{d}" for d in differences(saved, document)]
    for line in found:
        print(line)
    print(f"{len(found)} differences in {len(documents)} files' documents")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
