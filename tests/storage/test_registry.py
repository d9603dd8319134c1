from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from modelyard.storage import (
    InvalidURI,
    StorageError,
    UnsupportedScheme,
    clear_store_cache,
    get_store,
    register_scheme,
    supported_schemes,
    unregister_scheme,
)
from modelyard.storage.local import LocalStore

FAKE_MODULE = "tests.storage.fake_backend"


@pytest.fixture
def fake_scheme(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delitem(sys.modules, FAKE_MODULE, raising=False)
    register_scheme("fake", f"{FAKE_MODULE}:FakeStore")
    yield "fake"
    unregister_scheme("fake")


def test_unknown_scheme_lists_supported_schemes() -> None:
    with pytest.raises(UnsupportedScheme) as raised:
        get_store("ftp://x/y")
    assert str(raised.value) == (
        "Unsupported URI scheme 'ftp' in 'ftp://x/y'. Supported schemes: file, hive, s3."
    )
    assert raised.value.supported == ["file", "hive", "s3"]


def test_unknown_scheme_lists_registered_schemes_too(fake_scheme: str) -> None:
    with pytest.raises(UnsupportedScheme, match=r"Supported schemes: fake, file, hive, s3\."):
        get_store("ftp://x/y")


def test_path_without_scheme_is_invalid_and_advises_file_uri() -> None:
    with pytest.raises(InvalidURI, match="file:///abs/path"):
        get_store("/tmp/model.joblib")


def test_file_scheme_gives_local_store_shared_until_cache_cleared() -> None:
    store = get_store("file:///tmp/x")
    assert isinstance(store, LocalStore)
    assert get_store("FILE:///tmp/y") is store
    clear_store_cache()
    assert get_store("file:///tmp/x") is not store


def test_backend_module_is_imported_only_on_first_use(fake_scheme: str) -> None:
    assert FAKE_MODULE not in sys.modules
    store = get_store("fake://anything")
    assert FAKE_MODULE in sys.modules
    assert type(store).__name__ == "FakeStore"


def test_importing_storage_does_not_import_boto3() -> None:
    code = "import sys, modelyard.storage; print('boto3' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_custom_scheme_is_listed_then_removed(fake_scheme: str) -> None:
    assert "fake" in supported_schemes()
    unregister_scheme("fake")
    assert "fake" not in supported_schemes()
    with pytest.raises(UnsupportedScheme):
        get_store("fake://anything")


def test_target_that_is_not_a_store_is_reported() -> None:
    register_scheme("broken", f"{FAKE_MODULE}:NOT_A_STORE")
    try:
        with pytest.raises(StorageError, match="not a Store subclass"):
            get_store("broken://x")
    finally:
        unregister_scheme("broken")


def test_target_must_name_module_and_class() -> None:
    with pytest.raises(ValueError, match=r"module\.path:ClassName"):
        register_scheme("bad", "just.a.module")
    assert "bad" not in supported_schemes()
