"""The committed SDL is the schema the code builds."""

from __future__ import annotations

import difflib

from schema.sdl import PATH, sdl


def test_the_committed_sdl_is_the_schema_the_code_builds() -> None:
    built, committed = sdl(), PATH.read_text()
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            built.splitlines(keepends=True),
            "schema/schema.graphql",
            "the code",
        )
    )
    assert not diff, f"the schema changed; run `.venv/bin/python -m schema.sdl`:\n{diff}"
