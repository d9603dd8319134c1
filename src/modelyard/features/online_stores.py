"""Where the online store keeps its tiles: the database (embedded) or Redis (production).

One interface, two backends, chosen by `MODELYARD_FEATURES_ONLINE_STORE` (settings
`FEATURES_ONLINE_STORE`: `database`, or a `redis://` URL). A tile is one view's partial
states for one entity over [start, start + size) seconds, stored as JSON text: the states
come back exactly as written (online.py merges and folds them; this module only moves them).

Writers hold the source's database row lock (services.ingest), so a read-merge-write of
tiles never races another batch of the same source.
"""

from __future__ import annotations

import abc
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from django.conf import settings
from django.db import connection

from modelyard.features.aggregations import TILE_SECONDS, State
from modelyard.features.tiling import Slot
from modelyard.lib.errors import InvalidInput

LARGEST = TILE_SECONDS[0]
Tiles = dict[Slot, dict[str, State]]
EntityTiles = dict[tuple[int, int], dict[str, State]]  # (size, start) -> states


@dataclass(frozen=True)
class Fetched:
    tiles: dict[str, EntityTiles]  # entity key -> its tiles found
    newest_us: int | None  # time of the newest event applied to the view


class OnlineStore(abc.ABC):
    """Tiles per view. Writes of one call are all or nothing; reads never see half of one."""

    uses_database = False  # its calls need a database connection (not on an event loop)

    @abc.abstractmethod
    def stored(self, view_id: int, slots: Iterable[Slot]) -> Tiles:
        """Those of `slots` that have a tile, with its states."""

    @abc.abstractmethod
    def write(self, view_id: int, tiles: Tiles, newest_us: int | None) -> None:
        """Set the tiles' states (replacing what they held) and the view's newest event."""

    @abc.abstractmethod
    def fetch(
        self, view_id: int, keys: list[str], slots: list[tuple[int, int]], large_before: int
    ) -> Fetched:
        """For each entity key: its tiles among `slots` (size, start), and every tile of the
        largest size starting before `large_before` (lifetime features read them all)."""

    @abc.abstractmethod
    def clear(self, view_id: int) -> None:
        """Forget every tile of the view (before a rebuild). Idempotent."""


def _dumps(states: dict[str, State]) -> bytes:
    return orjson.dumps(states)


def _loads(text: bytes | str) -> dict[str, State]:
    found: dict[str, State] = orjson.loads(text)
    return found


# --- the database ------------------------------------------------------------------------------

ROWS_PER_STATEMENT = 500  # 5 parameters a row: within every database's limit


class DatabaseStore(OnlineStore):
    """The Tile table (features/models.py), in raw SQL: no model objects on the hot path."""

    uses_database = True

    def __init__(self) -> None:
        from modelyard.features.models import Tile, View

        quote = connection.ops.quote_name
        self.table = quote(Tile._meta.db_table)
        self.view_table = quote(View._meta.db_table)
        self.size, self.start = quote("size"), quote("start")

    def stored(self, view_id: int, slots: Iterable[Slot]) -> Tiles:
        wanted = set(slots)
        by_size: dict[int, set[str]] = defaultdict(set)
        for key, size, _ in wanted:
            by_size[size].add(key)
        found: Tiles = {}
        for size, keys in by_size.items():
            starts = [start for key, s, start in wanted if s == size]
            for chunk in _chunks(sorted(keys)):
                rows = self._select(
                    f"view_id = %s AND {self.size} = %s AND {self.start} BETWEEN %s AND %s",
                    [view_id, size, min(starts), max(starts)],
                    chunk,
                )
                for key, _, start, text in rows:
                    if (key, size, start) in wanted:
                        found[(key, size, start)] = _loads(text)
        return found

    def _select(self, where: str, params: list[Any], keys: list[str]) -> list[Any]:
        marks = ", ".join(["%s"] * len(keys))
        query = (
            f"SELECT entity_key, {self.size}, {self.start}, states FROM {self.table} "  # noqa: S608
            f"WHERE {where} AND entity_key IN ({marks})"
        )
        with connection.cursor() as cursor:
            cursor.execute(query, [*params, *keys])
            return list(cursor.fetchall())

    def write(self, view_id: int, tiles: Tiles, newest_us: int | None) -> None:
        rows = [
            (view_id, key, size, start, _dumps(states).decode())
            for (key, size, start), states in tiles.items()
        ]
        columns = f"(view_id, entity_key, {self.size}, {self.start}, states)"
        head = f"INSERT INTO {self.table} {columns} VALUES "  # noqa: S608 - no user text
        tail = (
            f" ON CONFLICT (view_id, entity_key, {self.size}, {self.start}) "
            "DO UPDATE SET states = excluded.states"
        )
        with connection.cursor() as cursor:
            for chunk in _chunks(rows):
                values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
                cursor.execute(head + values + tail, [value for row in chunk for value in row])
        # The view's newest event is its row's newest_event_at, written by services.

    def fetch(
        self, view_id: int, keys: list[str], slots: list[tuple[int, int]], large_before: int
    ) -> Fetched:
        by_size: dict[int, list[int]] = defaultdict(list)
        for size, start in slots:
            by_size[size].append(start)
        clauses = [f"({self.size} = %s AND {self.start} < %s)"]
        params: list[Any] = [view_id, LARGEST, large_before]
        for size, starts in sorted(by_size.items()):
            clauses.append(
                f"({self.size} = %s AND {self.start} IN ({', '.join(['%s'] * len(starts))}))"
            )
            params += [size, *starts]
        tiles: dict[str, EntityTiles] = {key: {} for key in keys}
        for chunk in _chunks(sorted(set(keys))):
            for key, size, start, text in self._select(
                f"view_id = %s AND ({' OR '.join(clauses)})", params, chunk
            ):
                tiles[key][(size, start)] = _loads(text)
        return Fetched(tiles, self._newest(view_id))

    def _newest(self, view_id: int) -> int | None:
        from modelyard.features.models import View
        from modelyard.features.validation import to_micros

        newest = View.objects.filter(pk=view_id).values_list("newest_event_at", flat=True).first()
        return None if newest is None else to_micros(newest)

    def clear(self, view_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.table} WHERE view_id = %s", [view_id])  # noqa: S608


def _chunks(items: list[Any], size: int = ROWS_PER_STATEMENT) -> list[list[Any]]:
    return [items[first : first + size] for first in range(0, len(items), size)]


# --- Redis -------------------------------------------------------------------------------------

PREFIX = "modelyard:features:"
SCAN_BATCH = 1000
# One read of many entities, server-side: the field names travel once (not once per
# entity), and only the tiles that exist come back, as [field, states, …] per hash. Most
# of a read's time was redis-py packing and parsing the names of absent tiles.
FETCH = """
local out = {}
for i = 1, #KEYS - 1, 2 do
  local found = {}
  if #ARGV > 0 then
    local values = redis.call('HMGET', KEYS[i], unpack(ARGV))
    for j = 1, #ARGV do
      if values[j] then
        found[#found + 1] = ARGV[j]
        found[#found + 1] = values[j]
      end
    end
  end
  out[#out + 1] = found
  out[#out + 1] = redis.call('HGETALL', KEYS[i + 1])
end
out[#out + 1] = redis.call('HGET', KEYS[#KEYS], 'newest_us')
return out
"""


class RedisStore(OnlineStore):
    """Two hashes per view and entity: the largest tiles (`…:L`, field = start), read whole
    for lifetime features, and the smaller ones (field = `size:start`), read by name. A read
    of many entities is one pipelined round trip (an HMGET and an HGETALL per entity)."""

    def __init__(self, url: str) -> None:
        from modelyard.lib.redis import redis_client

        self.client = redis_client(url, socket_timeout=5.0)
        self._fetch = self.client.register_script(FETCH)

    @staticmethod
    def _hash(view_id: int, key: str, size: int) -> str:
        return f"{PREFIX}{view_id}:{key}" + (":L" if size == LARGEST else "")

    @staticmethod
    def _field(size: int, start: int) -> str:
        return str(start) if size == LARGEST else f"{size}:{start}"

    def stored(self, view_id: int, slots: Iterable[Slot]) -> Tiles:
        by_hash: dict[str, list[Slot]] = defaultdict(list)
        for slot in slots:
            by_hash[self._hash(view_id, slot[0], slot[1])].append(slot)
        pipe = self.client.pipeline(transaction=False)
        for name, members in by_hash.items():
            pipe.hmget(name, [self._field(size, start) for _, size, start in members])
        found: Tiles = {}
        for members, texts in zip(by_hash.values(), pipe.execute(), strict=True):
            for slot, text in zip(members, texts, strict=True):
                if text is not None:
                    found[slot] = _loads(text)
        return found

    def write(self, view_id: int, tiles: Tiles, newest_us: int | None) -> None:
        by_hash: dict[str, dict[str, bytes]] = defaultdict(dict)
        for (key, size, start), states in tiles.items():
            by_hash[self._hash(view_id, key, size)][self._field(size, start)] = _dumps(states)
        pipe = self.client.pipeline(transaction=True)  # MULTI/EXEC: all of the batch or none
        for name, mapping in by_hash.items():
            pipe.hset(name, mapping=mapping)  # type: ignore[arg-type]
        if newest_us is not None:
            pipe.hset(f"{PREFIX}{view_id}:meta", "newest_us", newest_us)
        pipe.execute()

    def fetch(
        self, view_id: int, keys: list[str], slots: list[tuple[int, int]], large_before: int
    ) -> Fetched:
        fields = [self._field(size, start) for size, start in slots if size != LARGEST]
        names = [f"{PREFIX}{view_id}:{key}{tail}" for key in keys for tail in ("", ":L")]
        replies = self._fetch(keys=[*names, f"{PREFIX}{view_id}:meta"], args=fields)
        newest = replies.pop()
        large_slots = {start for size, start in slots if size == LARGEST}
        tiles: dict[str, EntityTiles] = {}
        for index, key in enumerate(keys):
            small, large = replies[2 * index], replies[2 * index + 1]
            found: EntityTiles = {}
            for position in range(0, len(small), 2):
                size, _, start = small[position].partition(b":")
                found[(int(size), int(start))] = _loads(small[position + 1])
            for position in range(0, len(large), 2):
                start = int(large[position])
                if start < large_before or start in large_slots:
                    found[(LARGEST, start)] = _loads(large[position + 1])
            tiles[key] = found
        return Fetched(tiles, None if newest is None else int(newest))

    def clear(self, view_id: int) -> None:
        names = list(self.client.scan_iter(match=f"{PREFIX}{view_id}:*", count=SCAN_BATCH))
        for first in range(0, len(names), SCAN_BATCH):
            self.client.unlink(*names[first : first + SCAN_BATCH])


# --- the choice --------------------------------------------------------------------------------


def get_store() -> OnlineStore:
    return _store(settings.FEATURES_ONLINE_STORE)


@cache
def _store(choice: str) -> OnlineStore:
    if choice == "database":
        return DatabaseStore()
    if choice.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(choice)
    raise InvalidInput(
        f"FEATURES_ONLINE_STORE={choice!r} is not an online store; use `database` or a "
        "redis:// URL (MODELYARD_FEATURES_ONLINE_STORE)."
    )
