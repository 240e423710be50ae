"""Who is calling: bearer tokens become principals; upload tokens are scoped to one recording.

Bearer tokens are JWTs, either HS256 with the configured secret (self-hosting) or RS256 signed
by an identity provider whose keys come from a JWKS URL. Upload tokens are HS256 JWTs the
service signs itself, with their own audience so that one can never pass for the other.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import anyio.to_thread
import jwt

from app.config import Settings
from app.errors import Unauthenticated

UPLOAD_AUDIENCE = "recordings:upload"


@dataclass(frozen=True, kw_only=True, slots=True)
class Caller:
    """The credentials presented with a request.

    ``subject`` is the signed-in user (None when anonymous); ``upload_recording_id`` the
    recording an upload token was issued for (None without one).
    """

    subject: str | None = None
    upload_recording_id: uuid.UUID | None = None

    @property
    def signed_in(self) -> bool:
        return self.subject is not None


ANONYMOUS = Caller()


class Authenticator:
    """Verifies bearer tokens and issues/verifies upload tokens."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=300)
            if settings.jwt_algorithm == "RS256" and settings.jwt_jwks_url
            else None
        )

    def issue_user_token(self, subject: str, *, ttl_seconds: int | None = None) -> str:
        """A bearer token for local use (HS256 only: an identity provider issues its own)."""
        if self._settings.jwt_secret is None:
            raise RuntimeError("issuing tokens needs RECORDINGS_JWT_SECRET (HS256)")
        now = int(time.time())
        claims: dict[str, object] = {
            "sub": subject,
            "iat": now,
            "exp": now + (ttl_seconds or self._settings.token_ttl_seconds),
        }
        if self._settings.jwt_audience:
            claims["aud"] = self._settings.jwt_audience
        if self._settings.jwt_issuer:
            claims["iss"] = self._settings.jwt_issuer
        return jwt.encode(claims, self._settings.jwt_secret.get_secret_value(), algorithm="HS256")

    async def verify_bearer(self, token: str) -> str:
        """The subject of a valid bearer token; :class:`Unauthenticated` otherwise."""
        settings = self._settings
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP (cached); keep it off the event loop.
                signing_key = await anyio.to_thread.run_sync(
                    self._jwks.get_signing_key_from_jwt, token
                )
                key: object = signing_key.key
                algorithms = ["RS256"]
            else:
                if settings.jwt_secret is None:
                    raise Unauthenticated("this server accepts no bearer tokens (no JWT secret)")
                key = settings.jwt_secret.get_secret_value()
                algorithms = ["HS256"]
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                options={"require": ["sub", "exp"], "verify_aud": settings.jwt_audience is not None},
            )
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated(f"cannot verify the bearer token: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid bearer token: {exc}") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise Unauthenticated("invalid bearer token: bad subject")
        return subject

    def issue_upload_token(self, recording_id: uuid.UUID) -> str:
        now = int(time.time())
        claims = {
            "sub": str(recording_id),
            "aud": UPLOAD_AUDIENCE,
            "iat": now,
            "exp": now + self._settings.upload_token_ttl_seconds,
        }
        return jwt.encode(claims, self._settings.secret_for_signing(), algorithm="HS256")

    def verify_upload_token(self, token: str) -> uuid.UUID:
        try:
            claims = jwt.decode(
                token,
                self._settings.secret_for_signing(),
                algorithms=["HS256"],
                audience=UPLOAD_AUDIENCE,
                options={"require": ["sub", "exp", "aud"]},
            )
            return uuid.UUID(claims["sub"])
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise Unauthenticated(f"invalid upload token: {exc}", field="X-Upload-Token") from None

    async def caller_from_headers(self, authorization: str | None, upload_token: str | None) -> Caller:
        """Build the :class:`Caller` from the request's headers; bad credentials are a 401."""
        subject = None
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("Authorization must be 'Bearer <token>'", field="Authorization")
            subject = await self.verify_bearer(token.strip())
        recording_id = self.verify_upload_token(upload_token.strip()) if upload_token else None
        return Caller(subject=subject, upload_recording_id=recording_id)
