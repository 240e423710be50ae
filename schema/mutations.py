"""Mutations — the same service layer as REST; expected failures come back as typed errors."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from app.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
)
from schema.enums import RecordingStatus
from schema.inputs import CreateRecordingInput
from schema.types import (
    AnalyzeRecordingPayload,
    AnalyzeRecordingResult,
    ClaimRecordingPayload,
    ClaimRecordingResult,
    ConflictError,
    CreateRecordingPayload,
    CreateRecordingResult,
    Ctx,
    DeleteRecordingPayload,
    DeleteRecordingResult,
    InvalidInputError,
    NotFoundError,
    Recording,
    UnauthenticatedError,
)


def _invalid_input(exc: InvalidInput | PayloadTooLarge) -> InvalidInputError:
    """A refused input (wrong, or too large) as the typed error, with its details."""
    details = JSON(exc.details) if exc.details is not None else None
    return InvalidInputError(message=exc.message, field=exc.field, details=details)


def expected(
    exc: DomainError,
) -> NotFoundError | ConflictError | InvalidInputError | UnauthenticatedError:
    """The typed error for a domain error; anything else propagates (and is masked)."""
    if isinstance(exc, NotFound):
        return NotFoundError(message=exc.message)
    if isinstance(exc, Conflict):
        return ConflictError(
            message=exc.message, code=exc.code, reason=exc.extra.get("reason") or exc.message
        )
    if isinstance(exc, InvalidInput):
        return _invalid_input(exc)
    if isinstance(exc, Unauthenticated):
        return UnauthenticatedError(message=exc.message)
    raise exc


async def _create(info: Ctx, body: object) -> CreateRecordingResult:
    services = info.context.services
    request = info.context.request
    size = int(request.headers.get("content-length") or 0) if request is not None else 0
    try:
        prepared = await services.intake.read_parsed(body, size_hint=size)
        created = await services.recordings.create(info.context.caller, prepared)
    except PayloadTooLarge as exc:
        return _invalid_input(exc)
    except (InvalidInput, Unauthenticated) as exc:
        return expected(exc)  # type: ignore[return-value]
    presigned = created.presigned
    return CreateRecordingPayload(
        recording=Recording.of(created.recording),
        upload_token=created.upload_token,
        upload_url=presigned.url if presigned else None,
        presigned_content_type=presigned.content_type if presigned else None,
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create a recording from what a recorder captured (the REST create body, "
        "typed); the video follows with the upload token or to the upload URL."
    )
    async def create_recording(
        self, info: Ctx, input: CreateRecordingInput
    ) -> CreateRecordingResult:
        return await _create(info, input.body())

    @strawberry.mutation(
        description="Create a recording from the REST create body as JSON.",
        deprecation_reason="Use createRecording, whose input is typed; this one takes the same "
        "body untyped and stays for clients written before it.",
    )
    async def create_recording_json(self, info: Ctx, input: JSON) -> CreateRecordingResult:
        return await _create(info, input)

    @strawberry.mutation(
        description="Start analysing a recording; asking again while it runs returns the same job."
    )
    async def analyze_recording(self, info: Ctx, id: strawberry.ID) -> AnalyzeRecordingResult:
        try:
            analysis = await info.context.services.analysis.request(info.context.caller, str(id))
        except (NotFound, Conflict, Unauthenticated) as exc:
            return expected(exc)  # type: ignore[return-value]
        return AnalyzeRecordingPayload(
            recording_id=id, job_id=analysis.id, status=RecordingStatus.analyzing
        )

    @strawberry.mutation
    async def claim_recording(self, info: Ctx, id: strawberry.ID) -> ClaimRecordingResult:
        services = info.context.services
        caller = info.context.caller
        try:
            claimed = await services.recordings.claim(caller, str(id))
        except (NotFound, Conflict, Unauthenticated) as exc:
            return expected(exc)  # type: ignore[return-value]
        assert caller.subject is not None  # claim refuses anonymous callers
        return ClaimRecordingPayload(recording=Recording.of(claimed), user_id=caller.subject)

    @strawberry.mutation
    async def delete_recording(self, info: Ctx, id: strawberry.ID) -> DeleteRecordingResult:
        try:
            await info.context.services.recordings.delete(info.context.caller, str(id))
        except (NotFound, Unauthenticated) as exc:
            return expected(exc)  # type: ignore[return-value]
        return DeleteRecordingPayload(recording_id=id)
