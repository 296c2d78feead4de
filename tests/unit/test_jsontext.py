from __future__ import annotations

import pytest
from calls.jsontext import MAX_PARSE_DEPTH, JsonTooDeep, dumps_exact, loads_exact, nesting_depth


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1.5}',
        '{"a":1.0}',
        '{"a":10}',
        '{"a":12345678901234567890}',
        '{"a":-0.0}',
        '{"a":1E+400}',
        '{"a":0.1000000000000000055511151231257827}',
        '{"a":[1,2.50,{"b":null,"c":true,"d":false}]}',
        '{"a":"Zoë \\"quoted\\" \\u2028"}',
    ],
)
def test_numbers_and_strings_keep_their_text(text: str) -> None:
    assert dumps_exact(loads_exact(text)) == text.replace("\\u2028", "\u2028")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_refused(constant: str) -> None:
    with pytest.raises(ValueError, match="not a JSON value"):
        loads_exact(f'{{"a": {constant}}}')


def test_absurd_nesting_is_reported_as_too_deep() -> None:
    with pytest.raises(JsonTooDeep):
        loads_exact("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_the_depth_limit_is_the_projects_not_the_interpreters(opening: str) -> None:
    """Python 3.13's parser reads 5,000 levels where 3.11's gave up: both refuse past the limit."""
    closing = "]" if opening == "[" else "}"

    def nested(levels: int) -> str:
        return opening * levels + "1" + closing * levels

    assert nesting_depth(loads_exact(nested(MAX_PARSE_DEPTH)), MAX_PARSE_DEPTH) == MAX_PARSE_DEPTH
    for levels in (MAX_PARSE_DEPTH + 1, 5_000):
        with pytest.raises(JsonTooDeep):
            loads_exact(nested(levels))


def test_brackets_inside_strings_do_not_make_a_body_too_deep() -> None:
    text = '{"a": "' + "[" * (MAX_PARSE_DEPTH + 10) + '"}'
    assert loads_exact(text) == {"a": "[" * (MAX_PARSE_DEPTH + 10)}


def test_nesting_depth_counts_objects_and_arrays() -> None:
    assert nesting_depth(7) == 0
    assert nesting_depth({}) == 1
    assert nesting_depth({"a": [{"b": []}]}) == 4
