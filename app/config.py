"""Service configuration, read once from the environment (prefix ``RECORDINGS_``) and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from app.pipeline import EngineOptions

GiB = 1024**3


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="RECORDINGS_", env_file=None, extra="ignore")

    environment: Literal["development", "production", "test"] = "production"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str = "http://127.0.0.1:8000"

    database_url: str | None = None
    redis_url: str | None = None

    storage: Literal["local", "s3"] = "local"
    data_dir: Path = Path("var")
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None  # where clients reach storage, if not s3_endpoint_url
    s3_region: str = "us-east-1"
    s3_bucket: str = "recordings"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    s3_part_size: int = Field(default=8 * 1024**2, ge=5 * 1024**2)
    presign_ttl_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)

    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    token_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    upload_token_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    signing_secret: SecretStr | None = None

    queue_name: str = "recordings:queue"
    analysis_timeout_seconds: int = Field(default=1800, ge=10)
    analysis_memory_limit_mb: int = Field(default=3072, ge=256)
    analysis_max_tries: int = Field(default=4, ge=1)
    # How long a worker's hold on a job lasts unless renewed (it renews it while it runs): a
    # job whose worker died runs again after about this long.
    job_lease_seconds: float = Field(default=60, ge=2)
    # How long a finished analysis waits for the database to come back before its result is
    # given up (it is kept in memory meanwhile, the save retried with capped backoff).
    analysis_save_window_seconds: float = Field(default=900, ge=1)
    # Optional OpenAI-compatible models: a language model writes the summary prose, a vision
    # model enriches frame descriptions. Unset: deterministic, no network.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    vlm_base_url: str | None = None
    vlm_model: str | None = None
    vlm_api_key: SecretStr | None = None
    # GraphQL
    graphql_max_depth: int = Field(default=10, ge=2)
    graphql_max_tokens: int = Field(default=2000, ge=100)
    graphql_max_body_bytes: int = Field(default=2 * 1024**2, ge=1024)
    # Browser pages on other origins that may call the API (REST and GraphQL over HTTP), a JSON
    # list; ["*"] allows any (no credentials mode: auth is never by cookie). None until set.
    cors_origins: list[str] = []
    # Other origins whose pages may open GraphQL websockets (same-origin and non-browser clients
    # always may); ["*"] allows any. Unset: the CORS origins.
    allowed_ws_origins: list[str] | None = None

    # HTTP: the largest request head (request line and headers) and how long it may take to arrive.
    http_max_header_bytes: int = Field(default=64 * 1024, ge=8 * 1024)
    http_header_timeout_seconds: float = Field(default=10, gt=0)

    max_upload_bytes: int = Field(default=2 * GiB, ge=1)
    # How long an unfinished resumable (tus) upload may wait for its next piece.
    resumable_upload_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    max_json_bytes: int = Field(default=32 * 1024**2, ge=1024)
    unclaimed_retention_days: float = Field(default=7, gt=0)

    @property
    def websocket_origins(self) -> list[str]:
        """The origins whose pages may open GraphQL websockets."""
        if self.allowed_ws_origins is not None:
            return self.allowed_ws_origins
        return self.cors_origins

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.jwt_algorithm == "RS256" and not self.jwt_jwks_url:
            raise ValueError("RECORDINGS_JWT_JWKS_URL is required with RS256")
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("RECORDINGS_S3_BUCKET is required with s3 storage")
        return self

    def engine_options(self) -> EngineOptions:
        """The analysis engine's options from this configuration."""
        from app.pipeline import ChatConfig, EngineOptions

        def chat(url: str | None, model: str | None, key: SecretStr | None) -> ChatConfig | None:
            if not url or not model:
                return None
            return ChatConfig(
                base_url=url, model=model, api_key=key.get_secret_value() if key else None
            )

        return EngineOptions(
            llm=chat(self.llm_base_url, self.llm_model, self.llm_api_key),
            vlm=chat(self.vlm_base_url, self.vlm_model, self.vlm_api_key),
        )

    def secret_for_signing(self) -> bytes:
        """Secret for what the service signs itself (upload tokens, local download URLs)."""
        secret = self.signing_secret or self.jwt_secret
        if secret is None:
            raise RuntimeError("set RECORDINGS_SIGNING_SECRET or RECORDINGS_JWT_SECRET")
        return secret.get_secret_value().encode()
