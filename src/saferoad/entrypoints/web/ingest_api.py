"""Device ingest API v1 (``/api/v1/ingest``): the routes of docs/ingest-api.md. Each route
authenticates the device, then calls one use case of ``saferoad.application.device_ingest``."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from saferoad.application import device_ingest as di
from saferoad.entrypoints.web.common import config_of, store_of

PREFIX = "/api/v1/ingest"
router = APIRouter(prefix=PREFIX, tags=["ingest"])


class Problem(BaseModel):
    detail: str = Field(description="What was wrong, naming the field or header.")


class Health(BaseModel):
    status: str


class TripIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a newer device may send more: tolerated
    device_id: str = Field(
        min_length=1, max_length=128, description="The device's id; must be the token's device."
    )
    driver: str = Field(min_length=1, max_length=128)
    vehicle: str = Field(min_length=1, max_length=128)
    fleet: str = Field(
        min_length=1,
        max_length=128,
        description="Must be the fleet the device token belongs to (else 403).",
    )
    start_utc: str = Field(min_length=1, description="ISO 8601 start time with its zone.")
    time_zone: str = Field(min_length=1, description="IANA time zone of the trip (local weeks).")
    summary: dict[str, Any] | None = Field(
        default=None,
        description="The trip's summary.json object; left out (or null) when the device opens "
        "the trip at the start of its drive: PUT /trips/{trip_id}/summary completes it.",
    )


class Stored(BaseModel):
    status: str = Field(description="created, unchanged or (a trip's summary) completed")
    id: int = Field(description="The store's id of the row.")
    trip_id: str | None = None
    event_id: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or unknown device token"},
    403: {"model": Problem, "description": "The device may not send to this fleet"},
    409: {"model": Problem, "description": "Same id stored with different content"},
    422: {"model": Problem, "description": "Invalid request (the field is named)"},
}
ID_PATTERN = di.ID_RE.pattern
TripId = Annotated[str, Path(description="Id the device chose for the trip", pattern=ID_PATTERN)]
EventId = Annotated[str, Path(description="Id the device chose for the event", pattern=ID_PATTERN)]
Auth = Annotated[str | None, Header(alias="Authorization", description="Bearer <device token>")]


RETRIES = 4


def _retrying(fn: Callable[..., di.Outcome], *args: Any) -> di.Outcome:
    """Run a use case (one unit of work) again when the database refused it for a conflict
    with a concurrent one: two devices creating the same fleet or score row at once
    (IntegrityError), a lock timeout or deadlock (OperationalError). Still refused after
    ``RETRIES`` tries: 503 with Retry-After, which a device treats as transient."""
    for attempt in range(RETRIES):
        try:
            return fn(*args)
        except (IntegrityError, OperationalError):
            if attempt == RETRIES - 1:
                break
            time.sleep(0.02 * 2**attempt * (0.5 + random.random()))
    raise di.IngestError(503, "the database is busy: try again", {"Retry-After": "1"})


def _reply(out: di.Outcome) -> Response:
    if out.body is None:
        return Response(status_code=out.status, headers=out.headers)
    return JSONResponse(out.body, status_code=out.status, headers=out.headers)


@router.get("/health", response_model=Health)
def health() -> Health:
    return Health(status="ok")


@router.put(
    "/trips/{trip_id}",
    status_code=201,
    response_model=Stored,
    responses={200: {"model": Stored, "description": "Identical trip already stored"}, **ERRORS},
)
def put_trip(
    request: Request, trip_id: TripId, body: TripIn, authorization: Auth = None
) -> Response:
    store = store_of(request)
    auth = di.authenticate(store, authorization)
    return _reply(
        _retrying(di.put_trip, store, config_of(request), auth, trip_id, body.model_dump())
    )


@router.put(
    "/trips/{trip_id}/summary",
    status_code=201,
    response_model=Stored,
    responses={
        200: {"model": Stored, "description": "The trip holds this summary already"},
        404: {"model": Problem, "description": "Unknown trip"},
        **ERRORS,
    },
)
def put_trip_summary(
    request: Request,
    trip_id: TripId,
    body: Annotated[dict[str, Any], Body(description="The trip's summary.json object")],
    authorization: Auth = None,
) -> Response:
    """Complete a trip opened at the start of its drive (PUT /trips/{trip_id} without a
    summary): its duration, distance and counts."""
    store = store_of(request)
    auth = di.authenticate(store, authorization)
    return _reply(_retrying(di.put_trip_summary, store, config_of(request), auth, trip_id, body))


@router.put(
    "/trips/{trip_id}/events/{event_id}",
    status_code=201,
    response_model=Stored,
    responses={
        200: {"model": Stored, "description": "Identical event already stored"},
        404: {"model": Problem, "description": "Unknown trip"},
        **ERRORS,
    },
)
def put_event(
    request: Request,
    trip_id: TripId,
    event_id: EventId,
    body: Annotated[dict[str, Any], Body(description="One events.jsonl record")],
    authorization: Auth = None,
) -> Response:
    store = store_of(request)
    auth = di.authenticate(store, authorization)
    return _reply(_retrying(di.put_event, store, config_of(request), auth, trip_id, event_id, body))


CLIP = "/trips/{trip_id}/events/{event_id}/clip"


@router.head(
    CLIP,
    responses={
        200: {"description": "Upload-Offset (bytes stored) and Upload-Length headers"},
        404: {"description": "Unknown trip or event, or no upload started"},
        401: {"description": "Missing or unknown device token"},
        422: {"description": "Invalid id"},
    },
)
def clip_head(
    request: Request, trip_id: TripId, event_id: EventId, authorization: Auth = None
) -> Response:
    store = store_of(request)
    try:
        auth = di.authenticate(store, authorization)
        return _reply(di.clip_head(store, auth, trip_id, event_id))
    except di.IngestError as err:  # a HEAD answer has no body
        return Response(status_code=err.status, headers=err.headers)


@router.patch(
    CLIP,
    status_code=204,
    responses={
        200: {"description": "The clip was complete already"},
        201: {"description": "Last chunk stored, SHA-256 checked: the clip is complete"},
        204: {"description": "Chunk stored; Upload-Offset says how many bytes are"},
        404: {"model": Problem, "description": "Unknown trip or event"},
        413: {"model": Problem, "description": "Upload-Length over the size limit"},
        415: {"model": Problem, "description": "Wrong Content-Type"},
        **ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/offset+octet-stream": {
                    "schema": {"type": "string", "format": "binary"}
                }
            },
        }
    },
)
async def clip_patch(
    request: Request,
    trip_id: TripId,
    event_id: EventId,
    authorization: Auth = None,
    upload_offset: Annotated[str | None, Header()] = None,
    upload_length: Annotated[str | None, Header()] = None,
    clip_sha256: Annotated[str | None, Header(alias="Clip-SHA256")] = None,
) -> Response:
    store, config = store_of(request), config_of(request)
    auth = await run_in_threadpool(di.authenticate, store, authorization)
    patch = di.check_patch_headers(
        config,
        upload_offset,
        upload_length,
        clip_sha256,
        request.headers.get("content-type"),
        request.headers.get("content-length"),
    )
    room = patch.length - patch.offset
    chunk = bytearray()
    try:
        async for part in request.stream():
            chunk += part
            if len(chunk) > room:
                raise di.IngestError(413, "body: the chunk goes past Upload-Length")
    except ClientDisconnect:  # the device went away mid-chunk: nothing of it is stored
        return Response(status_code=400)
    out = await run_in_threadpool(
        _retrying, di.clip_patch, store, config, auth, trip_id, event_id, patch, bytes(chunk)
    )
    return _reply(out)
