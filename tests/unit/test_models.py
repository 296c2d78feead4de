from __future__ import annotations

from typing import Any

import pytest
from calls.jsontext import dumps_exact, loads_exact
from calls.models import METADATA_MAX_BYTES, CreateCallRequest
from pydantic import ValidationError


def error_fields(payload: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        CreateCallRequest.model_validate(payload)
    return {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}


def test_every_field_is_optional() -> None:
    request = CreateCallRequest.model_validate({})
    assert request.model_dump(exclude_none=True) == {}


def test_null_means_absent() -> None:
    request = CreateCallRequest.model_validate({"title": None, "hostName": None, "recordOnStart": None})
    assert request.title is None
    assert request.hostName is None
    assert request.recordOnStart is None


def test_unknown_top_level_fields_are_ignored() -> None:
    request = CreateCallRequest.model_validate({"title": "t", "colour": "blue", "appId": "x"})
    assert request.title == "t"
    assert not hasattr(request, "colour")


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "1"])
def test_booleans_are_not_coerced(value: Any) -> None:
    assert error_fields({"recordOnStart": value}) == {"recordOnStart"}
    assert error_fields({"genesys": {"gcUsePopupAuth": value}}) == {"genesys.gcUsePopupAuth"}


@pytest.mark.parametrize("field", ["title", "description", "hostName", "guestName", "presetId"])
def test_strings_are_not_coerced_from_numbers(field: str) -> None:
    assert error_fields({field: 5}) == {field}


@pytest.mark.parametrize(
    ("field", "longest"),
    [("title", 200), ("description", 2000), ("hostName", 100), ("guestName", 100), ("presetId", 128)],
)
def test_length_limits_count_code_points(field: str, longest: int) -> None:
    character = "a" if field == "presetId" else "é"  # two UTF-8 bytes, one code point
    CreateCallRequest.model_validate({field: character * longest})
    assert error_fields({field: character * (longest + 1)}) == {field}


@pytest.mark.parametrize("field", ["hostName", "guestName", "presetId"])
def test_names_and_preset_ids_may_not_be_empty(field: str) -> None:
    assert error_fields({field: ""}) == {field}


def test_title_may_be_empty() -> None:
    assert CreateCallRequest.model_validate({"title": ""}).title == ""


@pytest.mark.parametrize("preset_id", ["my preset", "a/b", "ü", "x?"])
def test_preset_id_characters(preset_id: str) -> None:
    assert error_fields({"presetId": preset_id}) == {"presetId"}


def test_preset_id_allowed_characters() -> None:
    assert CreateCallRequest.model_validate({"presetId": "A-z_0.9:x"}).presetId == "A-z_0.9:x"


def test_genesys_strings_up_to_256() -> None:
    CreateCallRequest.model_validate({"genesys": {"conversationId": "c" * 256}})
    assert error_fields({"genesys": {"conversationId": "c" * 257}}) == {"genesys.conversationId"}


def test_metadata_must_be_an_object() -> None:
    assert error_fields({"metadata": []}) == {"metadata"}
    assert error_fields({"metadata": "x"}) == {"metadata"}


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


def test_metadata_depth_limit_is_ten_levels() -> None:
    CreateCallRequest.model_validate({"metadata": nested(10)})
    assert error_fields({"metadata": nested(11)}) == {"metadata"}
    with_array = {"a": [[[[[[[[[]]]]]]]]]}  # 1 object + 9 arrays = 10 levels
    CreateCallRequest.model_validate({"metadata": with_array})
    assert error_fields({"metadata": {"a": [with_array]}}) == {"metadata"}


def test_metadata_size_limit_is_bytes_of_compact_json() -> None:
    filler = METADATA_MAX_BYTES - len('{"k":""}')
    fits = {"k": "x" * filler}
    assert len(dumps_exact(fits).encode()) == METADATA_MAX_BYTES
    CreateCallRequest.model_validate({"metadata": fits})
    assert error_fields({"metadata": {"k": "x" * (filler + 1)}}) == {"metadata"}
    # Multi-byte characters count by their UTF-8 bytes.
    assert error_fields({"metadata": {"k": "é" * (filler // 2 + 1)}}) == {"metadata"}


def test_metadata_keeps_exact_numbers() -> None:
    payload = loads_exact('{"metadata": {"f": 1.0, "big": 12345678901234567890}}')
    request = CreateCallRequest.model_validate(payload)
    assert dumps_exact(request.metadata) == '{"f":1.0,"big":12345678901234567890}'


def test_one_error_per_offending_field() -> None:
    assert error_fields({"title": 1, "hostName": "", "metadata": 3, "recordOnStart": "no"}) == {
        "title",
        "hostName",
        "metadata",
        "recordOnStart",
    }
