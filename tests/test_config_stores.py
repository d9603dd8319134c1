"""MODELYARD_STORES: stores declared by the environment (the embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from modelyard import config
from modelyard.config import StoreSetting


def test_entries_with_their_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "MODELYARD_STORES",
        "s3://lake/models/ teams=red,blue delete=yes;\n file:///data/ml/ ; "
        "hive://h:10000/ml teams=all",
    )
    assert config.declared_stores() == [
        StoreSetting("s3://lake/models/", ("red", "blue"), True),
        StoreSetting("file:///data/ml/", None, False),
        StoreSetting("hive://h:10000/ml", None, False),
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/data/ml", "is not a URI"),
        ("s3://l/ delete=maybe", "is not an option"),
        ("s3://l/ x", "x"),
    ],
)
def test_mistakes_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("MODELYARD_STORES", value)
    with pytest.raises(config.ConfigError, match="MODELYARD_STORES") as caught:
        config.declared_stores()
    assert message in str(caught.value)


def test_unset_declares_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_STORES", raising=False)
    assert config.declared_stores() == []


def test_a_setting_store_holding_modelyard_home_stops_start_up(settings: Any) -> None:
    from modelyard.registry.stores import check_setting

    settings.DECLARED_STORES = [StoreSetting(Path(settings.HOME).parent.as_uri(), None, True)]
    with pytest.raises(ImproperlyConfigured, match=r"MODELYARD_STORES: .* holds MODELYARD_HOME"):
        check_setting()
