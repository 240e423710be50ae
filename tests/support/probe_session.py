"""A pytest session of its own, run by ``tests/test_suite_processes.py``: it starts every kind of
service process the suite starts (embedded PostgreSQL and Redis, moto's S3 server, API processes,
a worker with its engine) so that the parent can check none outlives the session.

Not collected by the suite itself (no ``test_`` prefix); run by path.
"""

from __future__ import annotations

import os
import time

from tests.conftest import Api


def test_starts_every_kind_of_service_process(local_api: Api, s3_api: Api, worker) -> None:
    ready = os.environ.get("RECORDINGS_PROBE_READY")
    if ready:  # the parent interrupts the session from here
        with open(ready, "w") as flag:
            flag.write("up")
        time.sleep(600)
