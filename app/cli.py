"""The ``recordings`` command: dev, serve, migrate, token, analyze."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from app.config import Settings


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None


def _dev_secret(data_dir: Path) -> str:
    """A signing secret kept under the data directory, so tokens survive restarts in development."""
    path = data_dir / "dev-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


@click.group()
def main() -> None:
    """Recordings: browser session recordings turned into analysed bug reports."""


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default $RECORDINGS_PORT or 8000).")
def dev(host: str | None, port: int | None) -> None:
    """Run the whole service on this machine with embedded PostgreSQL and Redis.

    Configured RECORDINGS_DATABASE_URL / RECORDINGS_REDIS_URL are used instead when set.
    SIGTERM, SIGINT and SIGHUP stop everything it started (API, worker, engine, PostgreSQL,
    Redis); a second signal while stopping kills what is left at once.
    """
    from app.embedded import EmbeddedServices, EmbeddedServicesError

    base = _settings()
    data_dir = base.data_dir
    overrides: dict[str, object] = {"environment": "development", "storage": base.storage}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if base.jwt_secret is None and base.jwt_algorithm == "HS256":
        overrides["jwt_secret"] = _dev_secret(data_dir)
    if "RECORDINGS_CORS_ORIGINS" not in os.environ:
        overrides["cors_origins"] = ["*"]  # pages on any origin may call a development API
    stopping = _Stopping()
    stopping.install()
    embedded = EmbeddedServices(
        data_dir,
        database_url=base.database_url,
        redis_url=base.redis_url,
        say=lambda message: click.echo(message, err=True),
    )
    stopping.kill_on_force(embedded.kill)
    try:
        with embedded as svc:
            overrides["database_url"] = svc.database_url
            overrides["redis_url"] = svc.redis_url
            listen_port = port or base.port
            if "RECORDINGS_PUBLIC_BASE_URL" not in os.environ:
                overrides["public_base_url"] = f"http://{host or base.host}:{listen_port}"
            settings = _settings(**{**base.model_dump(exclude_unset=True), **overrides})
            from app import db

            asyncio.run(db.migrate(svc.database_url))
            click.echo(f"database: {svc.database_url}", err=True)
            click.echo(f"redis:    {svc.redis_url}", err=True)
            click.echo(f"storage:  {settings.storage} ({settings.data_dir.resolve()})", err=True)
            origins = ", ".join(settings.cors_origins) or "none"
            click.echo(f"cors:     pages on these origins may call the API: {origins}", err=True)
            click.echo(
                f"a token:  recordings token alice   (listening on {settings.public_base_url})",
                err=True,
            )
            click.echo(f"dashboard: {_dashboard_link(settings, 'alice')}", err=True)
            worker = _spawn_worker(settings)
            stopping.kill_on_force(worker.kill)
            try:
                _serve(settings)
            finally:
                stopping.begin()
                worker.terminate()
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
    except EmbeddedServicesError as exc:
        raise click.ClickException(str(exc)) from None
    except _Stop:
        pass  # stopped by a signal: everything above has been stopped
    finally:
        click.echo(f"stopped in {stopping.elapsed():.1f} s", err=True)


def _dashboard_link(settings: Settings, user: str) -> str:
    """The dashboard signed in as USER: the token rides in the fragment, never sent to a server."""
    from app.auth import Authenticator

    token = Authenticator(settings).issue_user_token(user, ttl_seconds=7 * 24 * 3600)
    return f"{settings.public_base_url}/#token={token}"


class _Stop(BaseException):
    """A signal asked ``recordings dev`` to stop: unwinds through every cleanup on the way out."""


class _Stopping:
    """Signal handling of ``recordings dev``.

    uvicorn handles SIGINT and SIGTERM itself while it serves, shuts down, then raises the
    signal again for the handler that was there before it: ours, which unwinds the command
    through its cleanup (the default SIGTERM handler would end the process on the spot,
    leaving PostgreSQL and Redis running). A signal that arrives while stopping kills what is
    left and exits.
    """

    def __init__(self) -> None:
        self._force: list[Any] = []
        self._since: float | None = None

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)
        # uvicorn does not handle SIGHUP: it becomes a SIGTERM, stopped like one by whichever
        # handler is in place (uvicorn's while it serves, ours before and after).
        signal.signal(signal.SIGHUP, lambda signum, frame: signal.raise_signal(signal.SIGTERM))

    def kill_on_force(self, kill: Any) -> None:
        self._force.append(kill)

    def begin(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def elapsed(self) -> float:
        return 0.0 if self._since is None else time.monotonic() - self._since

    def _handle(self, signum: int, frame: object) -> None:
        if self._since is None:
            self.begin()
            raise _Stop
        click.echo("stopping now: killing what is left", err=True)
        for kill in reversed(self._force):
            with contextlib.suppress(Exception):
                kill()
        os._exit(128 + signum)


def _spawn_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """The analysis worker beside the API, configured like it (same database, Redis, storage)."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value)
        env[f"RECORDINGS_{name.upper()}"] = str(value)
    for secret in ("jwt_secret", "signing_secret", "s3_secret_access_key"):
        raw = getattr(settings, secret)
        if raw is not None:
            env[f"RECORDINGS_{secret.upper()}"] = raw.get_secret_value()
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)


def _serve(settings: Settings, workers: int = 1) -> None:
    import uvicorn

    from app.httpserver import PROTOCOL, GuardedHttpToolsProtocol
    from app.main import create_app

    GuardedHttpToolsProtocol.configure(settings)

    # Websocket messages here are small JSON progress events fanned out to many subscribers:
    # per-message compression (which browsers always offer) saves little on ~250 bytes and costs
    # a zlib context per connection and a compression per delivery (docs/performance.md).
    options = {
        "host": settings.host,
        "port": settings.port,
        "proxy_headers": True,
        "log_level": "info",
        "ws_per_message_deflate": False,
        "http": PROTOCOL,
    }
    if workers > 1:
        # Each process builds the app from the same environment (app.asgi).
        uvicorn.run("app.asgi:app", workers=workers, **options)  # type: ignore[arg-type]
        return
    uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]


@main.command()
@click.option("--workers", type=int, default=1, show_default=True, help="Processes to run.")
def serve(workers: int) -> None:
    """Run the API against the configured database, Redis and storage."""
    _serve(_settings(), workers)


@main.command()
@click.option("--burst", is_flag=True, help="Exit once the queue is empty.")
def worker(burst: bool) -> None:
    """Run an analysis worker (any number of them, on any number of machines)."""
    from workers.settings import make_worker

    settings = _settings()
    if not settings.database_url or not settings.redis_url:
        raise click.ClickException("set RECORDINGS_DATABASE_URL and RECORDINGS_REDIS_URL")
    make_worker(settings, burst=burst).run()


@main.command("bucket-cors")
@click.option("--apply", is_flag=True, help="Set it on the configured bucket.")
def bucket_cors(apply: bool) -> None:
    """Print the CORS rule the S3 bucket needs for browser uploads (RECORDINGS_CORS_ORIGINS)."""
    from app.storage.cors import bucket_cors_rules

    settings = _settings()
    rules = bucket_cors_rules(settings)
    if not settings.cors_origins:
        raise click.ClickException("set RECORDINGS_CORS_ORIGINS: no origin may upload yet")
    if not apply:
        click.echo(json.dumps(rules, indent=2))
        return
    if settings.storage != "s3":
        raise click.ClickException("the storage is not S3: nothing to apply")
    from app.storage.s3 import S3Storage

    asyncio.run(S3Storage(settings).set_cors(rules))
    click.echo(f"set the CORS rule of bucket {settings.s3_bucket}", err=True)


@main.command()
def migrate() -> None:
    """Apply the database migrations."""
    from app import db

    settings = _settings()
    if not settings.database_url:
        raise click.ClickException("set RECORDINGS_DATABASE_URL")
    asyncio.run(db.migrate(settings.database_url))
    click.echo("migrations applied")


@main.command()
@click.argument("user")
@click.option("--ttl", type=int, default=None, help="Lifetime in seconds.")
def token(user: str, ttl: int | None) -> None:
    """Print a bearer token for USER (HS256, for local use)."""
    from app.auth import Authenticator

    base = _settings()
    secret = base.jwt_secret.get_secret_value() if base.jwt_secret else None
    if secret is None:
        dev_secret = base.data_dir / "dev-secret"
        if not dev_secret.exists():
            raise click.ClickException("set RECORDINGS_JWT_SECRET (or run `recordings dev` once)")
        secret = dev_secret.read_text().strip()
    settings = _settings(jwt_secret=secret)
    click.echo(Authenticator(settings).issue_user_token(user, ttl_seconds=ttl))


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option(
    "--meta",
    "meta",
    required=True,
    type=click.Path(path_type=Path),
    help="The recorder's create JSON.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the result (default: stdout).",
)
def analyze(video: Path, meta: Path, out: Path | None) -> None:
    """Analyse VIDEO with its recorder JSON and print (or write) the result."""
    from app.pipeline.cli import run_analyze

    sys.exit(run_analyze(video, meta, out))


if __name__ == "__main__":
    main()
