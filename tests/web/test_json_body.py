"""web/json_body: which bodies are JSON, and where a parse error or non-Unicode text is."""

from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError

from web.json_body import check_text, is_json, parse_json


def error_of(raw: bytes) -> dict:
    with pytest.raises(RequestValidationError) as caught:
        parse_json(raw)
    [error] = caught.value.errors()
    return dict(error)


@pytest.mark.parametrize("content_type, expected", [
    (None, True), ("", True), ("application/json", True),
    ("application/json; charset=utf-8", True), ("application/merge-patch+json", True),
    ("APPLICATION/JSON", True), ("text/plain", False), ("multipart/form-data; boundary=x", False),
    ("application/x-www-form-urlencoded", False),
])
def test_is_json_follows_fastapi(content_type: str | None, expected: bool) -> None:
    assert is_json(content_type) is expected


def test_valid_bodies_parse() -> None:
    assert parse_json(b'{"a": [1, "\\u00e9", {"b": null}]}') == {"a": [1, "é", {"b": None}]}
    assert parse_json(b'\xef\xbb\xbf{"bom": true}') == {"bom": True}
    assert parse_json(b'{"emoji": "\\ud83d\\ude00"}') == {"emoji": "😀"}  # a pair


def test_parse_error_names_line_column_and_character() -> None:
    error = error_of(b'{\n  "a": 1\n  "b": 2}')
    assert error["loc"] == ()
    assert "line 3, column 3 (character 13)" in error["msg"]


def test_invalid_utf8_names_the_byte() -> None:
    assert "at byte 6" in error_of(b'{"a": \xc0}')["msg"]


def test_lone_surrogate_is_located_by_path_in_document_order() -> None:
    error = error_of(b'{"ok": "fine", "items": [{"x": "a"}, {"x": "b\\udc00", "y": "\\ud800"}]}')
    assert error["loc"] == ("body", "items", 1, "x")
    assert "\\udc00 at character 1" in error["msg"]


def test_lone_surrogate_in_a_key_is_located_at_the_key() -> None:
    error = error_of(b'{"ui": {"\\ud800k": 1}}')
    assert error["loc"] == ("body", "ui", "\\ud800k")


def test_check_text_on_values_not_from_json() -> None:
    check_text({"a": ["b", 1, None, 2.5, True]})
    with pytest.raises(RequestValidationError):
        check_text(["\udfff"])
