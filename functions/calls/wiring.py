"""Each use case built with its collaborators, once per container, on the first request that needs it.

The routes ask here for their use case; each factory imports its module when first called, so
a cold start builds only what its route uses. `build_every_service` builds them all at once
(what SnapStart's snapshot holds) and `reset` forgets everything built, configuration
included, so that a test starts as a cold container.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from calls.access import AppDirectory
    from calls.create import CreateCall
    from calls.end import EndCall
    from calls.join import JoinCall
    from calls.listing import ListCalls
    from calls.read import ReadCall
    from calls.recordings import (
        CompleteRecording,
        ListRecordings,
        RecordingAccess,
        RecordingPartUrls,
        StartRecording,
    )


@functools.cache
def get_app_directory() -> AppDirectory:
    """One app cache for every route."""
    from calls.access import AppDirectory
    from calls.repository import get_repository
    from calls.settings import get_settings

    return AppDirectory(get_repository().load_app, ttl_seconds=get_settings().cache_ttl_seconds)


@functools.cache
def get_create_call() -> CreateCall:
    from calls.create import CreateCall
    from calls.repository import get_idempotency_table, get_repository
    from calls.settings import get_settings

    settings = get_settings()
    return CreateCall(
        apps=get_app_directory(),
        put_call_once=get_repository().put_call_once,
        join_base_url=settings.join_base_url,
        call_ttl_seconds=settings.call_ttl_seconds,
        idempotency=get_idempotency_table,
    )


@functools.cache
def get_read_call() -> ReadCall:
    from calls.read import ReadCall
    from calls.repository import get_repository
    from calls.settings import get_settings

    return ReadCall(get_app_directory(), get_repository().get_call, get_settings().join_base_url)


@functools.cache
def get_list_calls() -> ListCalls:
    from calls.listing import ListCalls
    from calls.repository import get_repository
    from calls.settings import get_settings

    settings = get_settings()
    return ListCalls(
        get_app_directory(), get_repository().list_calls, settings.join_base_url, settings.cursor_signing_key
    )


@functools.cache
def get_end_call() -> EndCall:
    from calls.end import EndCall
    from calls.repository import get_repository
    from calls.settings import get_settings

    repository = get_repository()
    return EndCall(
        get_app_directory(),
        repository.end_call_once,
        get_settings().join_base_url,
        get_call=repository.get_call,
    )


@functools.cache
def get_join_call() -> JoinCall:
    from calls.ice import ice_servers_from, ice_settings
    from calls.join import JoinCall, SignalingOffer
    from calls.kinesis_video import KinesisVideoSignaling
    from calls.repository import get_repository
    from calls.settings import get_settings

    repository = get_repository()
    settings = get_settings()
    ice = ice_settings()
    signaling = SignalingOffer(
        url=settings.signaling_url,
        token_key=settings.signaling_token_key,
        ice_servers=ice_servers_from(ice, lambda: KinesisVideoSignaling(ice.region)),
    )
    return JoinCall(get_app_directory(), repository.get_call, repository.stamp_join_once, signaling=signaling)


@functools.cache
def get_recording_access() -> RecordingAccess:
    from calls.recording_storage import get_recordings_table
    from calls.recordings import RecordingAccess
    from calls.repository import get_repository

    return RecordingAccess(get_app_directory(), get_repository().get_call, get_recordings_table())


@functools.cache
def get_start_recording() -> StartRecording:
    from calls.recording_storage import get_recordings_bucket
    from calls.recordings import StartRecording
    from calls.settings import get_settings

    return StartRecording(
        get_recording_access(),
        get_recordings_bucket(),
        retention_days=get_settings().recording_retention_days,
    )


@functools.cache
def get_recording_part_urls() -> RecordingPartUrls:
    from calls.recording_storage import get_recordings_bucket
    from calls.recordings import RecordingPartUrls

    return RecordingPartUrls(get_recording_access(), get_recordings_bucket())


@functools.cache
def get_complete_recording() -> CompleteRecording:
    from calls.finish_recording import RecordingFinisher
    from calls.recording_storage import get_recordings_bucket, get_recordings_table
    from calls.recordings import CompleteRecording

    finisher = RecordingFinisher(get_recordings_table(), get_recordings_bucket())
    return CompleteRecording(get_recording_access(), finisher)


@functools.cache
def get_list_recordings() -> ListRecordings:
    from calls.recording_storage import get_recordings_bucket, get_recordings_table
    from calls.recordings import ListRecordings
    from calls.repository import get_repository

    return ListRecordings(
        get_app_directory(), get_repository().get_call, get_recordings_table(), get_recordings_bucket()
    )


SERVICE_FACTORIES = (
    get_app_directory,
    get_create_call,
    get_read_call,
    get_list_calls,
    get_end_call,
    get_join_call,
    get_recording_access,
    get_start_recording,
    get_recording_part_urls,
    get_complete_recording,
    get_list_recordings,
)


def build_every_service() -> None:
    """Everything the routes build on first use, built at once: what SnapStart's snapshot holds."""
    from calls.models import (
        CompleteRecordingRequest,
        CreateCallRequest,
        JoinCallRequest,
        ListCallsQuery,
        RecordingPartsRequest,
        StartRecordingRequest,
    )

    for factory in SERVICE_FACTORIES:
        factory()
    # The request models defer their validators to first use (defer_build); build them now.
    for model in (
        CreateCallRequest,
        ListCallsQuery,
        JoinCallRequest,
        StartRecordingRequest,
        RecordingPartsRequest,
        CompleteRecordingRequest,
    ):
        model.model_rebuild(force=True)


def reset() -> None:
    """Forget every built service, the configuration and the clients: a cold container again."""
    from calls import recording_storage, repository, settings

    for factory in SERVICE_FACTORIES:
        factory.cache_clear()
    settings.get_settings.cache_clear()
    repository.get_repository.cache_clear()
    repository.get_idempotency_table.cache_clear()
    recording_storage.get_recordings_table.cache_clear()
    recording_storage.get_recordings_bucket.cache_clear()
