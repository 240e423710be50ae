"""Who is calling: bearer tokens become principals; upload tokens are scoped to one recording.

Bearer tokens are JWTs, either HS256 with the configured secret (self-hosting) or RS256 signed
by an identity provider whose keys come from a JWKS URL. Upload tokens are HS256 JWTs the
service signs itself. The two can never pass for one another, whatever is configured:

- an upload token is signed with its own key, derived from the signing secret (so it does not
  verify where a bearer token is checked even when both secrets are the same);
- it carries its own type in its header (``typ``) and its own audience, and both are checked on
  both sides: a bearer token with the upload type or audience is refused, and so is an upload
  token without them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass

import anyio.to_thread
import jwt

from app.config import Settings
from app.errors import Unauthenticated

UPLOAD_AUDIENCE = "recordings:upload"
UPLOAD_TOKEN_TYPE = "recordings-upload+jwt"


def derived_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose only, derived from a secret (HMAC-SHA256 as the derivation)."""
    return hmac.new(secret, f"recordings/{purpose}/v1".encode(), hashlib.sha256).digest()


def _claims_audiences(claims: dict[str, object]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


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
        self._upload_key: bytes | None = None
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
            if jwt.get_unverified_header(token).get("typ") == UPLOAD_TOKEN_TYPE:
                raise Unauthenticated(
                    "an upload token is not a bearer token", field="Authorization"
                )
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
                options={
                    "require": ["sub", "exp"],
                    "verify_aud": settings.jwt_audience is not None,
                },
            )
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated(f"cannot verify the bearer token: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid bearer token: {exc}") from None
        if UPLOAD_AUDIENCE in _claims_audiences(claims):
            raise Unauthenticated("an upload token is not a bearer token", field="Authorization")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise Unauthenticated("invalid bearer token: bad subject")
        return subject

    def _upload_signing_key(self) -> bytes:
        if self._upload_key is None:
            self._upload_key = derived_key(self._settings.secret_for_signing(), "upload-token")
        return self._upload_key

    def issue_upload_token(self, recording_id: uuid.UUID) -> str:
        now = int(time.time())
        claims = {
            "sub": str(recording_id),
            "aud": UPLOAD_AUDIENCE,
            "iat": now,
            "exp": now + self._settings.upload_token_ttl_seconds,
        }
        return jwt.encode(
            claims,
            self._upload_signing_key(),
            algorithm="HS256",
            headers={"typ": UPLOAD_TOKEN_TYPE},
        )

    def verify_upload_token(self, token: str) -> uuid.UUID:
        try:
            if jwt.get_unverified_header(token).get("typ") != UPLOAD_TOKEN_TYPE:
                raise Unauthenticated("this is not an upload token", field="X-Upload-Token")
            claims = jwt.decode(
                token,
                self._upload_signing_key(),
                algorithms=["HS256"],
                audience=UPLOAD_AUDIENCE,
                options={"require": ["sub", "exp", "aud"]},
            )
            return uuid.UUID(claims["sub"])
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise Unauthenticated(f"invalid upload token: {exc}", field="X-Upload-Token") from None

    async def caller_from_headers(
        self, authorization: str | None, upload_token: str | None
    ) -> Caller:
        """Build the :class:`Caller` from the request's headers; bad credentials are a 401."""
        subject = None
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated(
                    "Authorization must be 'Bearer <token>'", field="Authorization"
                )
            subject = await self.verify_bearer(token.strip())
        recording_id = self.verify_upload_token(upload_token.strip()) if upload_token else None
        return Caller(subject=subject, upload_recording_id=recording_id)
