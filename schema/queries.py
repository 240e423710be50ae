"""Queries — thin: call the services, wrap the rows."""

from __future__ import annotations

import strawberry

from app.errors import NotFound
from schema.enums import RecordingStatus
from schema.types import Ctx, PageInfo, Recording, RecordingConnection, RecordingEdge


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in user's recordings, newest first.")
    async def recordings(
        self,
        info: Ctx,
        first: int = 20,
        after: str | None = None,
        status: RecordingStatus | None = None,
    ) -> RecordingConnection:
        wanted = None if status is None else status.value
        page = await info.context.services.recordings.list(
            info.context.caller, limit=first, cursor=after, status=wanted
        )
        from app.recordings.service import encode_cursor

        edges = [
            RecordingEdge(cursor=encode_cursor(r), node=Recording.of(r)) for r in page.recordings
        ]
        return RecordingConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None, end_cursor=page.next_cursor
            ),
            caller=info.context.caller,
            status=wanted,
        )

    @strawberry.field(description="One recording, or null when it does not exist or is not yours.")
    async def recording(self, info: Ctx, id: strawberry.ID) -> Recording | None:
        try:
            recordings = info.context.services.recordings
            row = await recordings.verify_direct_upload(
                await recordings.get(info.context.caller, str(id))
            )
        except NotFound:
            return None
        return Recording.of(row)
