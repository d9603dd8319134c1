from __future__ import annotations

import pytest

from modelyard.lib.errors import InvalidInput
from modelyard.registry.refs import Ref, parse_ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demo/churn", Ref("demo", "churn")),
        ("demo/churn:12", Ref("demo", "churn", version=12)),
        ("demo/churn@production", Ref("demo", "churn", alias="production")),
    ],
)
def test_parse(text: str, expected: Ref) -> None:
    assert parse_ref(text) == expected
    assert str(parse_ref(text)) == text


@pytest.mark.parametrize("text", ["churn", "demo/churn:", "demo/churn@", "demo/a/b", "Demo/x"])
def test_bad_references_explain_the_format(text: str) -> None:
    with pytest.raises(InvalidInput, match="TEAM/NAME"):
        parse_ref(text)
