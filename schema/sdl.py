"""The schema's SDL, committed as ``schema/schema.graphql`` so API changes show in review.

``python -m schema.sdl`` rewrites the file; a test fails when the code and the file differ.
"""

from __future__ import annotations

from pathlib import Path

from app.config import Settings

PATH = Path(__file__).with_name("schema.graphql")


def sdl() -> str:
    """The SDL of the schema the API serves (the same whatever the settings)."""
    from schema import build_schema

    settings = Settings(
        environment="production", database_url="postgres://sdl/sdl", redis_url="redis://sdl"
    )
    return build_schema(settings).as_str() + "\n"


if __name__ == "__main__":
    PATH.write_text(sdl())
    print(f"wrote {PATH}")
