"""HiveStore: URI parsing and error wording offline; tables on a real Spark Thrift Server.

Each Hive statement takes about a second on a small machine, so the server tests share
one database and build only the tables they need.
"""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pyhive.exc import OperationalError
from thrift.transport.TTransport import TTransportException

from modelyard.storage import (
    BucketNotFound,
    DeletionRefused,
    InvalidURI,
    ObjectInfo,
    ObjectNotFound,
    StorageError,
    StoreAccessDenied,
    StoreUnavailable,
    get_store,
)
from modelyard.storage.hive import (
    HiveStore,
    _translate,
    location_uri,
    parse_hive_uri,
)

HIVE_VARIABLES = (
    "MODELYARD_HIVE_HOST",
    "MODELYARD_HIVE_PORT",
    "MODELYARD_HIVE_USER",
    "MODELYARD_HIVE_AUTH",
    "MODELYARD_HIVE_PASSWORD",
)


@pytest.fixture(autouse=True)
def _no_hive_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's MODELYARD_HIVE_* settings out of the tests."""
    for name in HIVE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# --- URIs -------------------------------------------------------------------------------


def test_uri_names_user_server_database_and_table() -> None:
    target = parse_hive_uri("hive://analyst@hive.example.com:10001/Sales/orders")
    assert (target.user, target.host, target.port) == ("analyst", "hive.example.com", 10001)
    assert (target.database, target.table) == ("Sales", "orders")
    assert (target.endpoint, target.qualified_name) == (
        "hive.example.com:10001",
        "`Sales`.`orders`",
    )
    assert target.auth == "NONE"


def test_port_and_user_have_defaults() -> None:
    target = parse_hive_uri("hive://hive.example.com/sales/orders")
    assert (target.port, target.user) == (10000, "modelyard")


def test_ipv6_host_is_bracketed() -> None:
    assert parse_hive_uri("hive://[::1]:10001/sales/orders").endpoint == "[::1]:10001"


def test_uri_without_host_takes_server_and_user_from_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELYARD_HIVE_HOST", "hive.internal")
    monkeypatch.setenv("MODELYARD_HIVE_PORT", "10005")
    monkeypatch.setenv("MODELYARD_HIVE_USER", "etl")
    target = parse_hive_uri("hive:///sales/orders")
    assert (target.host, target.port, target.user) == ("hive.internal", 10005, "etl")


def test_uri_without_host_needs_the_environment() -> None:
    with pytest.raises(InvalidURI, match="MODELYARD_HIVE_HOST"):
        parse_hive_uri("hive:///sales/orders")


@pytest.mark.parametrize(
    "uri",
    [
        "hive://h:1/sales/orders;DROP",
        "hive://h:1/sales/orders'--",
        "hive://h:1/sales/or`ders",
        "hive://h:1/sa-les/orders",
        "hive://h:1/sales/1orders",
        "hive://h:1/sales/orders\n",
        "hive://h:1/sales",
        "hive://h:1/sales/orders/extra",
        "hive://h:99999/sales/orders",
        "hive://h:port/sales/orders",
    ],
)
def test_malformed_uri_is_refused_before_connecting(uri: str) -> None:
    # Port 1 on host "h" is unreachable: reaching it would raise StoreUnavailable instead.
    with pytest.raises(InvalidURI):
        HiveStore().delete(uri)


def test_password_in_uri_is_refused() -> None:
    with pytest.raises(InvalidURI, match="MODELYARD_HIVE_PASSWORD") as raised:
        parse_hive_uri("hive://analyst:secret@h:1/sales/orders")
    assert "secret" not in str(raised.value)


def test_password_auth_needs_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_HIVE_AUTH", "ldap")
    with pytest.raises(StorageError, match="MODELYARD_HIVE_PASSWORD"):
        parse_hive_uri("hive://h:1/sales/orders")
    monkeypatch.setenv("MODELYARD_HIVE_PASSWORD", "secret")
    target = parse_hive_uri("hive://h:1/sales/orders")
    assert (target.auth, target.password) == ("LDAP", "secret")
    assert "secret" not in repr(target)


def test_unsupported_auth_lists_the_supported_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELYARD_HIVE_AUTH", "KERBEROS")
    with pytest.raises(StorageError, match="NONE, NOSASL, LDAP, CUSTOM"):
        parse_hive_uri("hive://h:1/sales/orders")


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("file:/data/wh/sales.db/orders", "file:///data/wh/sales.db/orders"),
        ("file:///data/orders", "file:///data/orders"),
        ("file://localhost/data/orders", "file:///data/orders"),
        ("s3a://lake/sales/orders", "s3://lake/sales/orders"),
        ("s3://lake/sales/orders", "s3://lake/sales/orders"),
    ],
)
def test_table_location_maps_to_a_storage_uri(location: str, expected: str) -> None:
    assert location_uri(location, parse_hive_uri("hive://h/sales/orders")) == expected


@pytest.mark.parametrize(
    ("location", "named"), [("hdfs://nn:8020/wh/orders", "hdfs"), ("file://nas/x", "'nas'")]
)
def test_location_modelyard_cannot_delete_is_refused(location: str, named: str) -> None:
    with pytest.raises(StorageError, match="Delete the files") as raised:
        location_uri(location, parse_hive_uri("hive://h/sales/orders"))
    assert named in str(raised.value)


# --- Registry, byte streams, errors -------------------------------------------------------


def test_hive_scheme_is_served_by_hive_store() -> None:
    assert isinstance(get_store("hive://h:1/sales/orders"), HiveStore)


def test_importing_storage_does_not_import_pyhive() -> None:
    code = "import sys, modelyard.storage; print('pyhive' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_tables_are_not_byte_streams(tmp_path: Path) -> None:
    store, uri = HiveStore(), "hive://h:1/sales/orders"
    with pytest.raises(StorageError, match="registered in place"):
        store.open(uri)
    with pytest.raises(StorageError, match="registered in place"):
        store.put(uri, io.BytesIO(b"rows"))
    with pytest.raises(StorageError, match="registered in place") as raised:
        store.download(uri, tmp_path / "orders")
    assert raised.value.permanent  # no retry will make a table a byte stream
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_is_unavailable_naming_host_and_port() -> None:
    port = _closed_port()
    with pytest.raises(StoreUnavailable) as raised:
        HiveStore().exists(f"hive://127.0.0.1:{port}/sales/orders")
    assert (raised.value.endpoint, raised.value.bucket) == (f"127.0.0.1:{port}", "sales")
    assert f"127.0.0.1:{port}" in str(raised.value)
    assert "Connection refused" in str(raised.value)


def _server_error(message: str) -> OperationalError:
    """PyHive's error for a failed statement: the server's response is its argument."""
    return OperationalError(SimpleNamespace(status=SimpleNamespace(errorMessage=message)))


@pytest.mark.parametrize(
    "error",
    [
        TTransportException(TTransportException.NOT_OPEN, "Bad status: 5 (Error validating login)"),
        _server_error("Error running query: org.apache.hadoop.security.AccessControlException"),
        _server_error("User: hive is not allowed to impersonate analyst"),
    ],
)
def test_refusals_are_access_denied(error: Exception) -> None:
    target = parse_hive_uri("hive://hive.example.com:10001/sales/orders")
    translated = _translate(error, target)
    assert isinstance(translated, StoreAccessDenied)
    assert (translated.endpoint, translated.bucket) == ("hive.example.com:10001", "sales")


def test_other_server_errors_keep_the_servers_first_line() -> None:
    error = _server_error("Error running query: [PARSE_SYNTAX_ERROR] near 'x'\n== SQL ==")
    translated = _translate(error, parse_hive_uri("hive://h:1/sales/orders"))
    assert type(translated) is StorageError
    assert "[PARSE_SYNTAX_ERROR] near 'x'." in str(translated)
    assert "== SQL ==" not in str(translated)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- A real Spark Thrift Server -------------------------------------------------------------


@pytest.fixture(scope="module")
def database(hive_cursor: Any) -> Iterator[str]:
    name = f"modelyard_{uuid.uuid4().hex[:12]}"
    hive_cursor.execute(f"CREATE DATABASE {name}")
    yield name
    hive_cursor.execute(f"DROP DATABASE IF EXISTS {name} CASCADE")


@pytest.fixture
def table_uri(hive_server: tuple[str, int], database: str) -> Callable[[str], str]:
    """Builds the hive:// URI of a table in the test database."""
    host, port = hive_server

    def uri(table: str) -> str:
        return f"hive://tester@{host}:{port}/{database}/{table}"

    return uri


def create_table(cursor: Any, database: str, table: str, location: Path | None = None) -> None:
    """A Parquet table with two rows; EXTERNAL at ``location`` if one is given."""
    external = "EXTERNAL " if location else ""
    where = f" LOCATION '{location}'" if location else ""
    cursor.execute(
        f"CREATE {external}TABLE {database}.{table} (id INT, name STRING) STORED AS PARQUET{where}"
    )
    # The names come from the tests themselves, never from input.
    cursor.execute(f"INSERT INTO {database}.{table} VALUES (1, 'a'), (2, 'b')")  # noqa: S608


def local_path(location: str) -> Path:
    return Path(location.removeprefix("file:"))


def table_location(cursor: Any, database: str, table: str) -> Path:
    """Where Spark keeps a table's files; cheaper to ask than HiveStore.table_info."""
    cursor.execute(f"DESCRIBE FORMATTED {database}.{table}")
    return next(local_path(row[1]) for row in cursor.fetchall() if row[0] == "Location")


def data_files(directory: Path) -> list[Path]:
    """The files Hive counts: Hadoop's hidden .crc and _SUCCESS files excluded."""
    return [path for path in directory.rglob("*") if path.is_file() and path.name[0] not in "._"]


@pytest.mark.integration
def test_stat_reads_statistics_and_checksum_follows_writes(
    hive_cursor: Any, database: str, table_uri: Callable[[str], str]
) -> None:
    create_table(hive_cursor, database, "scores")
    store, uri = HiveStore(), table_uri("scores")
    info = store.table_info(uri)  # the table has no statistics yet: this runs ANALYZE
    assert (info.kind, info.rows) == ("MANAGED", 2)
    location = local_path(info.location)
    assert info.size == sum(path.stat().st_size for path in data_files(location)) > 0
    first = store.stat(uri)
    assert first == ObjectInfo(uri=uri, size=info.size, checksum=info.checksum)
    assert first.checksum.startswith("hive-stats:")
    assert store.stat(uri) == first
    assert list(store.list(uri)) == [first]

    hive_cursor.execute(f"INSERT INTO {database}.scores VALUES (3, 'c')")  # noqa: S608
    after_insert = store.stat(uri)
    assert after_insert.size > first.size
    assert after_insert.checksum != first.checksum


@pytest.mark.integration
def test_missing_table_does_not_exist_and_deletes_as_nothing(
    database: str, table_uri: Callable[[str], str]
) -> None:
    store, uri = HiveStore(), table_uri("missing")
    assert not store.exists(uri)
    with pytest.raises(ObjectNotFound, match="SHOW TABLES IN"):
        store.stat(uri)
    with pytest.raises(ObjectNotFound):
        next(store.list(uri))
    assert store.delete(uri) == 0


@pytest.mark.integration
def test_missing_database_raises_rather_than_reporting_no_table(
    table_uri: Callable[[str], str],
) -> None:
    uri = table_uri("missing").replace("/modelyard_", "/nosuchdb_")
    with pytest.raises(BucketNotFound, match="Fix the database name") as raised:
        HiveStore().exists(uri)
    assert raised.value.bucket.startswith("nosuchdb_")


def all_files(directory: Path) -> int:
    """Bytes of every file under ``directory``: what PURGE or a delete really removes."""
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


@pytest.mark.integration
def test_delete_managed_table_purges_its_files_and_returns_their_size(
    hive_cursor: Any, database: str, table_uri: Callable[[str], str]
) -> None:
    create_table(hive_cursor, database, "managed")
    store, uri = HiveStore(), table_uri("managed")
    location = table_location(hive_cursor, database, "managed")
    # PURGE removes Hadoop's .crc and _SUCCESS files too: they count as freed.
    size = all_files(location)
    assert size > sum(path.stat().st_size for path in data_files(location)) > 0

    assert store.delete(uri) == size
    assert not location.exists()
    assert not store.exists(uri)
    assert store.delete(uri) == 0


@pytest.mark.integration
def test_delete_measures_a_table_that_grew_since_it_was_measured(
    hive_cursor: Any, database: str, table_uri: Callable[[str], str]
) -> None:
    create_table(hive_cursor, database, "growing")
    store, uri = HiveStore(), table_uri("growing")
    registered = store.stat(uri).size  # what registration records
    for batch in range(2):
        hive_cursor.execute(f"INSERT INTO {database}.growing VALUES ({batch}, 'x')")  # noqa: S608
    location = table_location(hive_cursor, database, "growing")
    size = all_files(location)
    assert size > registered

    assert store.delete(uri) == size
    assert not location.exists()


@pytest.mark.integration
def test_delete_external_table_deletes_its_files_too(
    hive_cursor: Any, database: str, table_uri: Callable[[str], str], tmp_path: Path
) -> None:
    location = tmp_path / "external_orders"
    create_table(hive_cursor, database, "external", location)
    store, uri = HiveStore(), table_uri("external")
    assert store.table_info(uri).kind == "EXTERNAL"
    assert data_files(location)
    # Everything under the location goes, Hadoop's .crc and _SUCCESS files included.
    on_disk = all_files(location)

    assert store.delete(uri) == on_disk
    assert not location.exists()
    assert not store.exists(uri)
    assert store.delete(uri) == 0


@pytest.mark.integration
def test_delete_refuses_partitioned_external_table_and_keeps_it(
    hive_cursor: Any, database: str, table_uri: Callable[[str], str], tmp_path: Path
) -> None:
    hive_cursor.execute(
        f"CREATE EXTERNAL TABLE {database}.by_day (id INT) PARTITIONED BY (day STRING) "
        f"STORED AS PARQUET LOCATION '{tmp_path / 'by_day'}'"
    )
    store, uri = HiveStore(), table_uri("by_day")
    with pytest.raises(DeletionRefused, match="partitions may live outside") as raised:
        store.delete(uri)
    assert raised.value.permanent
    assert store.exists(uri)


@pytest.mark.integration
def test_view_is_not_a_table(
    hive_cursor: Any, database: str, table_uri: Callable[[str], str]
) -> None:
    hive_cursor.execute(f"CREATE VIEW {database}.one AS SELECT 1 AS id")
    store, uri = HiveStore(), table_uri("one")
    assert store.exists(uri)
    with pytest.raises(StorageError, match="is a VIEW"):
        store.stat(uri)
    with pytest.raises(StorageError, match="DROP VIEW"):
        store.delete(uri)
    assert store.exists(uri)
