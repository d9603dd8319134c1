"""Hive tables, reached through HiveServer2: ``hive://[user@]host:port/database/table``.

A URI names one table; Hive has no prefixes. ``hive:///database/table`` (no host)
takes the server from ``MODELYARD_HIVE_HOST`` and ``MODELYARD_HIVE_PORT``. The port
defaults to 10000 and the user to ``MODELYARD_HIVE_USER``, else ``modelyard``.
``MODELYARD_HIVE_AUTH`` is HiveServer2's ``hive.server2.authentication``: NONE (the
default), NOSASL, LDAP or CUSTOM; the last two read ``MODELYARD_HIVE_PASSWORD``, which
never goes in a URI because URIs are stored in the registry.

Tables are registered in place: modelyard reads their size and metastore statistics
and can drop them with their data, but never uploads or downloads their bytes.
Tested against the Spark Thrift Server (Spark 4.1), whose ``DESCRIBE FORMATTED``
layout this module parses; Apache Hive's own HiveServer2 lays it out differently.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar, NoReturn

from modelyard import config
from modelyard.storage.base import ObjectInfo, ProgressCallback, Store
from modelyard.storage.errors import (
    BucketNotFound,
    DeletionRefused,
    InvalidURI,
    ObjectNotFound,
    StorageError,
    StoreAccessDenied,
    StoreUnavailable,
    UnsupportedScheme,
)
from modelyard.storage.registry import get_store
from modelyard.storage.uris import parse_uri

DEFAULT_PORT = 10000
DEFAULT_USER = "modelyard"
CONNECT_TIMEOUT_SECONDS = 10
# Statements run synchronously, so one socket read lasts as long as the statement:
# ANALYZE on a large table can legitimately take many minutes.
STATEMENT_TIMEOUT_SECONDS = 30 * 60
AUTH_MODES = ("NONE", "NOSASL", "LDAP", "CUSTOM")
_PASSWORD_AUTH_MODES = ("LDAP", "CUSTOM")
_TABLE_KINDS = ("MANAGED", "EXTERNAL")  # the other kinds (views) hold no data

# Names are pasted into SQL text (HiveQL has no parameters for identifiers), so only
# plain identifiers are accepted; the backquotes then only guard reserved words.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # fullmatch: "$" would allow "\n"
_STATISTICS = re.compile(r"^(\d+) bytes(?:, (\d+) rows)?$")
_LAST_DDL_TIME = re.compile(r"transient_lastDdlTime=(\d+)")
_DETAILS_HEADER = "# Detailed Table Information"
_PARTITIONS_HEADER = "# Partition Information"
_SASL_REJECTIONS = ("Bad status", "Bad SASL result", "Could not start SASL")
_ACCESS_DENIED_MARKERS = (
    "permission denied",
    "access denied",
    "accesscontrolexception",
    "authorization failed",
    "insufficient_permissions",
    "not allowed to impersonate",
)
_TRANSPORT_TIMED_OUT = 3  # TTransportException.TIMED_OUT
_TRANSPORT_END_OF_FILE = 4  # TTransportException.END_OF_FILE


class HiveUnavailable(StoreUnavailable):
    """HiveServer2 could not be reached or did not answer in time."""

    def __init__(self, endpoint: str, database: str, detail: str) -> None:
        self.endpoint = endpoint
        self.bucket = database
        # StoreUnavailable's own message points at AWS_ENDPOINT_URL; say what fits Hive.
        StorageError.__init__(
            self,
            f"HiveServer2 at {endpoint} is unavailable (database {database!r}): {detail}. "
            "Check that it is running and that the URI, or MODELYARD_HIVE_HOST and "
            "MODELYARD_HIVE_PORT, point at it; then retry.",
        )


class HiveAccessDenied(StoreAccessDenied):
    """HiveServer2 refused the credentials or the statement."""

    def __init__(self, endpoint: str, database: str, detail: str) -> None:
        self.endpoint = endpoint
        self.bucket = database
        StorageError.__init__(
            self,
            f"Access denied by HiveServer2 at {endpoint} for database {database!r}: {detail}. "
            "Check MODELYARD_HIVE_USER, MODELYARD_HIVE_AUTH and MODELYARD_HIVE_PASSWORD, "
            "and the grants on the database.",
        )


class DatabaseNotFound(BucketNotFound):
    """The Hive database in the URI does not exist: a configuration error."""

    def __init__(self, uri: str, database: str, endpoint: str) -> None:
        self.bucket = database
        self.endpoint = endpoint
        ObjectNotFound.__init__(
            self,
            uri,
            f"Database {database!r} does not exist on HiveServer2 at {endpoint} (while "
            f"accessing {uri!r}). Fix the database name in the URI, or create it.",
        )


@dataclass(frozen=True)
class HiveTarget:
    """One ``hive://`` URI resolved to a server, credentials and a table."""

    uri: str
    host: str
    port: int
    user: str
    database: str
    table: str
    auth: str = "NONE"
    password: str | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def qualified_name(self) -> str:
        return f"`{self.database}`.`{self.table}`"


@dataclass(frozen=True)
class HiveTableInfo:
    """What the metastore records about a table (``DESCRIBE FORMATTED``).

    ``size`` and ``rows`` are the metastore's statistics, ``None`` when it has none.
    They are only as fresh as the last ANALYZE or metastore update: files written
    behind Hive's back are not counted, and the Spark Thrift Server reports ``0 rows``
    after an INSERT into a table analyzed earlier, until ANALYZE runs again.
    """

    uri: str
    kind: str  # MANAGED, EXTERNAL or VIEW
    location: str  # as Hive reports it, e.g. file:/warehouse/db.db/table or s3a://...
    size: int | None
    rows: int | None
    created: str
    last_ddl_time: str
    partitioned: bool
    storage_format: str = ""  # Provider, InputFormat and SerDe, e.g. "hive …ParquetInputFormat"

    @property
    def checksum(self) -> str:
        """A fingerprint of the statistics, prefixed ``hive-stats:``.

        Hive keeps no hash of a table's contents and hashing them would mean reading
        every file, so this hashes what the metastore does keep. It changes when the
        table is written through Hive, altered or re-created; it does not notice files
        changed behind Hive's back, and equal tables do not get equal values.
        """
        fields = (self.location, self.size, self.rows, self.created, self.last_ddl_time)
        digest = hashlib.sha256("\n".join(map(str, fields)).encode())
        return f"hive-stats:{digest.hexdigest()}"


def parse_hive_uri(uri: str) -> HiveTarget:
    """Resolve ``uri`` against the MODELYARD_HIVE_* environment; raise InvalidURI if bad."""
    parsed = parse_uri(uri)
    if parsed.scheme != "hive":
        raise InvalidURI(f"{uri!r} is not a Hive URI; expected hive://host:port/database/table.")
    database, table = _table_path(uri, parsed.path)
    credentials, _, hostport = parsed.netloc.rpartition("@")
    host, port = _server(uri, hostport)
    auth, password = _authentication()
    user = _user(uri, credentials)
    return HiveTarget(uri, host, port, user, database, table, auth, password)


def _table_path(uri: str, path: str) -> tuple[str, str]:
    names = path.strip("/").split("/")
    if len(names) != 2:
        raise InvalidURI(f"{uri!r} does not name a table; write hive://host:port/database/table.")
    for name in names:
        if not _IDENTIFIER.fullmatch(name):
            raise InvalidURI(
                f"{name!r} in {uri!r} is not a plain Hive identifier (letters, digits and "
                "underscores, not starting with a digit). Rename the database or table."
            )
    return names[0], names[1]


def _server(uri: str, hostport: str) -> tuple[str, int]:
    if not hostport:
        host = config.env_str("MODELYARD_HIVE_HOST", "")
        if not host:
            raise InvalidURI(
                f"{uri!r} names no HiveServer2 host; write hive://host:port/database/table "
                "or set MODELYARD_HIVE_HOST."
            )
        return host, _port(config.env_str("MODELYARD_HIVE_PORT", ""), "MODELYARD_HIVE_PORT")
    if hostport.startswith("["):  # an IPv6 literal, [::1]:10000
        host, _, port_text = hostport[1:].partition("]")
        return host, _port(port_text.removeprefix(":"), uri)
    host, _, port_text = hostport.partition(":")
    return host, _port(port_text, uri)


def _port(text: str, source: str) -> int:
    if not text:
        return DEFAULT_PORT
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidURI(f"Port {text!r} in {source} is not a TCP port number (1-65535).")
    return int(text)


def _user(uri: str, credentials: str) -> str:
    if ":" in credentials:
        user = credentials.partition(":")[0]
        raise InvalidURI(
            f"The Hive URI for user {user!r} contains a password; URIs are stored in the "
            "registry, so remove it and set MODELYARD_HIVE_PASSWORD instead."
        )
    # A fixed default rather than the OS user: workers run as service accounts whose
    # names mean nothing to a Hive admin, and some containers have no user name at all.
    return credentials or config.env_str("MODELYARD_HIVE_USER", DEFAULT_USER)


def _authentication() -> tuple[str, str | None]:
    auth = config.env_str("MODELYARD_HIVE_AUTH", "NONE").upper()
    password = config.env_secret("MODELYARD_HIVE_PASSWORD")
    if auth not in AUTH_MODES:
        raise StorageError(
            f"MODELYARD_HIVE_AUTH={auth!r} is not supported; use one of "
            f"{', '.join(AUTH_MODES)}, matching the server's hive.server2.authentication."
        )
    if auth in _PASSWORD_AUTH_MODES and not password:
        raise StorageError(f"MODELYARD_HIVE_AUTH={auth} needs MODELYARD_HIVE_PASSWORD to be set.")
    return auth, password if auth in _PASSWORD_AUTH_MODES else None


class HiveStore(Store):
    """Each object is a Hive table; ``size`` and ``checksum`` come from its statistics.

    Opens a HiveServer2 session per call instead of caching connections: PyHive
    connections are not thread-safe, servers close idle sessions, and a session costs
    one round trip next to the several statements each call runs.
    """

    scheme: ClassVar[str] = "hive"

    def exists(self, uri: str) -> bool:
        """Whether the table (or view) exists; a missing database raises DatabaseNotFound."""
        target = parse_hive_uri(uri)
        with _session(target) as session:
            return session.table_exists()

    def stat(self, uri: str) -> ObjectInfo:
        """Describe the table. Runs ``ANALYZE TABLE ... COMPUTE STATISTICS`` first if
        the metastore has no statistics: a full scan of the table, which can take
        minutes on a large one, but only once, since the result is stored.
        """
        info = self.table_info(uri)
        return ObjectInfo(uri=uri, size=info.size or 0, checksum=info.checksum)

    def table_info(self, uri: str) -> HiveTableInfo:
        """Return the metastore's description of a table, analyzing it first if needed."""
        target = parse_hive_uri(uri)
        with _session(target) as session:
            session.require_table()
            info = session.describe_with_statistics()
        if info.kind not in _TABLE_KINDS:
            raise StorageError(
                f"{uri} is a {info.kind}, not a table, so it holds no data of its own. "
                "Register the table it reads from instead."
            )
        return info

    def describe(self, uri: str) -> HiveTableInfo:
        """The metastore's description of a table as it is: no ANALYZE, so statistics may
        be missing (readers that only need the location and format use this)."""
        target = parse_hive_uri(uri)
        with _session(target) as session:
            session.require_table()
            return session.describe()

    def deletion_reach(self, uri: str) -> tuple[str, ...]:
        """An EXTERNAL table's location, which ``delete`` empties through modelyard's own
        store for it; a MANAGED table's files are dropped by the Hive server itself. A
        missing table reaches nothing."""
        target = parse_hive_uri(uri)
        with _session(target) as session:
            if not session.table_exists():
                return ()
            info = session.describe()
        if info.kind != "EXTERNAL":
            return ()
        return (location_uri(info.location, target),)

    def list(self, uri: str) -> Iterator[ObjectInfo]:
        """Yield the table itself: a table has no members to list."""
        yield self.stat(uri)

    def open(self, uri: str) -> AbstractContextManager[BinaryIO]:
        _refuse_bytes(uri, "read")

    def put(
        self,
        uri: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        _refuse_bytes(uri, "upload")

    def download(
        self,
        uri: str,
        dest_path: str | os.PathLike[str],
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        _refuse_bytes(uri, "download")

    def delete(self, uri: str) -> int:
        """Drop the table and delete its data files; return the bytes freed, measured
        at the drop (never the size the table had when it was registered).

        First refreshes the size statistic with ``ANALYZE ... NOSCAN`` (a file listing,
        not a scan). A MANAGED table is then dropped with PURGE, which deletes every
        file under its location; the bytes freed are those files, listed just before
        the drop (see ``_measure_location``). Dropping an EXTERNAL table leaves its
        files behind, and Spark refuses to make it managed, so everything under its
        location, whoever put it there, is deleted through modelyard's own store for it
        (file: or s3a:), then the table is dropped; the bytes freed are what that store
        deleted. A missing table returns 0; a missing database raises DatabaseNotFound.
        What modelyard will not drop (a view, a partitioned external table, a location
        it cannot reach) raises DeletionRefused and changes nothing.
        """
        target = parse_hive_uri(uri)
        with _session(target) as session:
            if not session.table_exists():
                return 0
            info = session.describe_with_fresh_size()
            if info.kind == "MANAGED":
                freed = _measure_location(info, target)
                session.query(f"DROP TABLE IF EXISTS {target.qualified_name} PURGE")
                return freed
            freed = _delete_external_data(info, target)
            session.query(f"DROP TABLE IF EXISTS {target.qualified_name}")
            return freed


def _refuse_bytes(uri: str, action: str) -> NoReturn:
    raise StorageError(
        f"Cannot {action} {uri} as bytes: Hive tables are registered in place, never "
        "uploaded or downloaded through modelyard. Read the table with Hive or Spark.",
        permanent=True,
    )


def _measure_location(info: HiveTableInfo, target: HiveTarget) -> int:
    """The bytes of every file under a managed table's location, counted now.

    PURGE deletes them all, Hadoop's ``.crc`` and ``_SUCCESS`` files included, which
    Hive's size statistic leaves out; so they are listed through modelyard's own store
    for the location. Where modelyard cannot list it (HDFS, another host's disk, an S3
    endpoint it is not configured for, a listing that fails), the statistic ANALYZE
    NOSCAN has just refreshed stands in: the server's own count of the data files.
    """
    try:
        data_uri = location_uri(info.location, target)
        return sum(entry.size for entry in get_store(data_uri).list_sizes(data_uri))
    except StorageError:
        return info.size or 0


def _delete_external_data(info: HiveTableInfo, target: HiveTarget) -> int:
    """Delete everything under an external table's location; return the bytes freed."""
    if info.kind != "EXTERNAL":
        raise DeletionRefused(
            f"Cannot delete {target.uri}: it is a {info.kind}, which holds no data. "
            f"Drop it with DROP VIEW {target.qualified_name} if it is no longer needed."
        )
    if info.partitioned:
        raise DeletionRefused(
            f"Cannot delete the partitioned EXTERNAL table {target.uri}: its partitions "
            "may live outside its location, where deleting the location would miss them. "
            "Nothing was changed. Delete the partitions' files and drop the table by hand."
        )
    data_uri = location_uri(info.location, target)
    store = _store_for(data_uri, info, target)
    # A location on the Hive server's own disk, or on another S3 endpoint, would look
    # empty from here: deleting "nothing" and then dropping the table would strand it.
    if info.size and not store.exists(data_uri):
        raise DeletionRefused(
            f"Hive reports {info.size} bytes at {info.location} for {target.uri}, but "
            f"modelyard cannot see {data_uri} from this machine. Nothing was changed. "
            "Run the delete where that location is reachable, or delete it by hand."
        )
    return store.delete(data_uri)


def readable_location(info: HiveTableInfo) -> str:
    """The storage URI of a table's files, for readers; StorageError where modelyard
    cannot read (HDFS, another host's disk)."""
    target = parse_hive_uri(info.uri)
    try:
        return location_uri(info.location, target)
    except DeletionRefused:
        raise StorageError(
            f"{info.uri} keeps its files at {info.location!r}, where modelyard cannot read "
            "them: it reads tables at file: (on this machine) and s3a: locations.",
            permanent=True,
        ) from None


def location_uri(location: str, target: HiveTarget) -> str:
    """Map a table location Hive reports (Hadoop style) to a modelyard storage URI."""
    scheme, _, rest = location.partition(":")
    if scheme.lower() == "file":
        return _local_location_uri(location, rest, target)
    if scheme.lower() in ("s3", "s3a", "s3n") and rest.startswith("//"):
        return f"s3:{rest}"
    raise DeletionRefused(
        f"Cannot delete the EXTERNAL table {target.uri}: its data is at {location}, and "
        "modelyard can only delete data at file: and s3a: locations. Nothing was changed. "
        f"Delete the files with your {scheme or 'storage'} tools, then drop the table "
        "(DROP TABLE keeps an external table's files)."
    )


def _local_location_uri(location: str, rest: str, target: HiveTarget) -> str:
    # Hadoop writes file:/abs/path; file:///abs/path and file://localhost/... also occur.
    path = rest
    if rest.startswith("//"):
        authority, _, remainder = rest[2:].partition("/")
        if authority not in ("", "localhost"):
            raise DeletionRefused(
                f"Cannot delete the EXTERNAL table {target.uri}: its location {location} "
                f"is on host {authority!r}. Delete the files there, then drop the table."
            )
        path = "/" + remainder
    return "file://" + path


def _store_for(data_uri: str, info: HiveTableInfo, target: HiveTarget) -> Store:
    try:
        return get_store(data_uri)
    except UnsupportedScheme as error:
        raise DeletionRefused(
            f"Cannot delete the EXTERNAL table {target.uri}: no store is registered for "
            f"its location {info.location} ({error}). Nothing was changed."
        ) from error


@contextlib.contextmanager
def _session(target: HiveTarget) -> Iterator[_Session]:
    """Open a HiveServer2 session for one operation, translating driver errors."""
    with _translated_errors(target):
        connection = _connect(target)
        try:
            yield _Session(connection.cursor(), target)
        finally:
            connection.close()


class _Session:
    """The statements a HiveStore runs, over one PyHive cursor."""

    def __init__(self, cursor: Any, target: HiveTarget) -> None:
        self._cursor = cursor
        self.target = target

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            self._cursor.execute(sql)
            return list(self._cursor.fetchall()) if self._cursor.description else []
        except _driver("pyhive.exc").Error as error:
            raise _statement_error(error, self.target, sql) from error

    def table_exists(self) -> bool:
        """Whether the table (or a view) exists; raises DatabaseNotFound if its database
        does not. LIKE patterns mean different things in different Hive and Spark
        versions, so the names that come back are compared exactly.
        """
        database, table = self.target.database, self.target.table
        databases = self.query(f"SHOW DATABASES LIKE '{database}'")
        if not any(row[0].lower() == database.lower() for row in databases):
            raise DatabaseNotFound(self.target.uri, database, self.target.endpoint)
        tables = self.query(f"SHOW TABLES IN `{database}` LIKE '{table}'")
        columns = [column[0] for column in self._cursor.description]
        # Spark answers (namespace, tableName, isTemporary); Hive answers (tab_name).
        name_column = columns.index("tableName") if "tableName" in columns else 0
        return any(row[name_column].lower() == table.lower() for row in tables)

    def require_table(self) -> None:
        if not self.table_exists():
            raise ObjectNotFound(
                self.target.uri,
                f"No table {self.target.database}.{self.target.table} on HiveServer2 at "
                f"{self.target.endpoint} ({self.target.uri}). Check the table name, or "
                f"list the tables with SHOW TABLES IN {self.target.database}.",
            )

    def describe(self) -> HiveTableInfo:
        rows = self.query(f"DESCRIBE FORMATTED {self.target.qualified_name}")
        return _parse_description(rows, self.target)

    def describe_with_statistics(self) -> HiveTableInfo:
        """Describe the table, first counting its rows and bytes if the metastore has no
        statistics. That ANALYZE reads the whole table, but its result is kept.
        """
        info = self.describe()
        if info.size is None and info.kind in _TABLE_KINDS:
            self.query(f"ANALYZE TABLE {self.target.qualified_name} COMPUTE STATISTICS")
            info = self.describe()
        return info

    def describe_with_fresh_size(self) -> HiveTableInfo:
        """Describe the table after re-measuring its size from the files under it.

        NOSCAN lists the files but reads none, so it is cheap. A missing location
        measures 0 bytes, which keeps a retried delete from tripping the check that
        the location is visible from here.
        """
        info = self.describe()
        if info.kind not in _TABLE_KINDS:
            return info
        self.query(f"ANALYZE TABLE {self.target.qualified_name} COMPUTE STATISTICS NOSCAN")
        return self.describe()


def _parse_description(rows: list[tuple[Any, ...]], target: HiveTarget) -> HiveTableInfo:
    labels = [str(row[0] or "").strip() for row in rows]
    if _DETAILS_HEADER not in labels:
        raise _unreadable_description(target, _DETAILS_HEADER)
    details_start = labels.index(_DETAILS_HEADER)
    details = {
        label: str(row[1] or "").strip()
        for label, row in zip(labels[details_start:], rows[details_start:], strict=True)
    }
    if "Type" not in details:
        raise _unreadable_description(target, "Type")
    size, count = _parse_statistics(details.get("Statistics", ""))
    last_ddl = _LAST_DDL_TIME.search(details.get("Table Properties", ""))
    return HiveTableInfo(
        uri=target.uri,
        kind=details["Type"].upper(),
        location=details.get("Location", ""),
        size=size,
        rows=count,
        created=details.get("Created Time", ""),
        last_ddl_time=last_ddl.group(1) if last_ddl else "",
        partitioned=_PARTITIONS_HEADER in labels[:details_start],
        storage_format=" ".join(
            details.get(label, "") for label in ("Provider", "InputFormat", "Serde Library")
        ).strip(),
    )


def _parse_statistics(text: str) -> tuple[int | None, int | None]:
    """Read Spark's ``"746 bytes, 2 rows"``; the rows part may be missing."""
    match = _STATISTICS.match(text)
    if match is None:
        return None, None
    size, rows = match.groups()
    return int(size), int(rows) if rows is not None else None


def _unreadable_description(target: HiveTarget, missing: str) -> StorageError:
    return StorageError(
        f"DESCRIBE FORMATTED {target.database}.{target.table} on {target.endpoint} has no "
        f"{missing!r} row, so modelyard cannot read it. modelyard understands the Spark "
        "Thrift Server's layout; report the server type and version.",
        permanent=True,
    )


def _driver(module: str) -> Any:
    """Import a PyHive or thrift module on first use.

    Imported lazily so that ``import modelyard.storage`` never loads them, and through
    importlib because neither package ships type information.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise StorageError(
            f"hive:// URIs need PyHive, which is not installed ({error}). Install it with "
            "pip install 'PyHive[hive-pure-sasl]'.",
            permanent=True,
        ) from error


def _connect(target: HiveTarget) -> Any:
    """Open a HiveServer2 session; the socket is built here so it can have timeouts."""
    socket = _driver("thrift.transport.TSocket").TSocket(target.host, target.port)
    socket.setTimeout(CONNECT_TIMEOUT_SECONDS * 1000)
    connection = _driver("pyhive.hive").connect(
        thrift_transport=_transport(target, socket), username=target.user, database="default"
    )
    socket.setTimeout(STATEMENT_TIMEOUT_SECONDS * 1000)
    return connection


def _transport(target: HiveTarget, socket: Any) -> Any:
    """Wrap the socket the way ``pyhive.hive.connect`` does for the same auth mode."""
    if target.auth == "NOSASL":
        return _driver("thrift.transport.TTransport").TBufferedTransport(socket)
    hive = _driver("pyhive.hive")
    # Under NONE the server ignores the password, but SASL PLAIN needs a non-empty one.
    password = target.password or "x"

    def sasl_client() -> Any:
        return hive.get_installed_sasl(
            host=target.host, sasl_auth="PLAIN", username=target.user, password=password
        )

    return _driver("thrift_sasl").TSaslClientTransport(sasl_client, "PLAIN", socket)


@contextlib.contextmanager
def _translated_errors(target: HiveTarget) -> Iterator[None]:
    """Turn thrift and socket errors into StorageError subclasses naming the server."""
    try:
        yield
    except StorageError:
        raise
    except OSError as error:
        raise HiveUnavailable(target.endpoint, target.database, str(error)) from error
    except Exception as error:
        translated = _translate(error, target)
        if translated is None:
            raise
        raise translated from error


def _translate(error: Exception, target: HiveTarget) -> StorageError | None:
    if isinstance(error, _driver("pyhive.exc").Error):
        return _statement_error(error, target, None)  # OpenSession refused us
    if not isinstance(error, _driver("thrift.transport.TTransport").TTransportException):
        return None
    detail = str(error.message or error)
    if detail.startswith(_SASL_REJECTIONS):
        return HiveAccessDenied(target.endpoint, target.database, detail)
    if error.type == _TRANSPORT_TIMED_OUT:
        detail = f"no answer within {STATEMENT_TIMEOUT_SECONDS} seconds"
    elif error.type == _TRANSPORT_END_OF_FILE:
        detail = (
            "the server closed the connection (if on connecting, check that "
            "MODELYARD_HIVE_AUTH matches its hive.server2.authentication)"
        )
    elif error.inner is not None:
        detail = f"{detail}: {error.inner}"
    return HiveUnavailable(target.endpoint, target.database, detail)


def _statement_error(error: Exception, target: HiveTarget, sql: str | None) -> StorageError:
    message = _server_message(error)
    if any(marker in message.lower() for marker in _ACCESS_DENIED_MARKERS):
        return HiveAccessDenied(target.endpoint, target.database, message)
    statement = f" running {sql!r}" if sql else ""
    return StorageError(
        f"HiveServer2 at {target.endpoint} failed{statement} for {target.uri}: {message}. "
        "Fix what the message names, or retry if the server was busy."
    )


def _server_message(error: Exception) -> str:
    """The first line of the server's error message, from PyHive's response object."""
    response = error.args[0] if error.args else None
    status = getattr(response, "status", None)
    message = str(getattr(status, "errorMessage", None) or error)
    return message.strip().splitlines()[0].removeprefix("Error running query: ")
