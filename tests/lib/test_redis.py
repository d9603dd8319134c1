"""Every Redis client modelyard makes comes from one factory."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from modelyard.lib.redis import redis_client

SOURCE = Path(__file__).resolve().parent.parent.parent / "src" / "modelyard"
FACTORY = SOURCE / "lib" / "redis.py"


def _makes_a_client(node: ast.AST) -> bool:
    # redis.Redis(...), redis.Redis.from_url(...), redis.from_url(...), StrictRedis(...)
    if not isinstance(node, ast.Call):
        return False
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    if name == "from_url":
        owner = function.value if isinstance(function, ast.Attribute) else None
        return ast.unparse(owner or function).split(".")[0] == "redis"
    return name in {"Redis", "StrictRedis"}


def test_no_module_but_the_factory_makes_a_redis_client() -> None:
    makers = [
        f"{path.relative_to(SOURCE)}:{node.lineno}"
        for path in SOURCE.rglob("*.py")
        if path != FACTORY
        for node in ast.walk(ast.parse(path.read_text()))
        if _makes_a_client(node)
    ]

    assert makers == []


def test_the_scanner_sees_the_ways_of_making_one() -> None:
    source = "redis.Redis.from_url(u)\nredis.from_url(u)\nredis.Redis(host='h')\nx.from_url(u)"
    found = [n for n in ast.walk(ast.parse(source)) if _makes_a_client(n)]

    assert len(found) == 3


@pytest.mark.integration
def test_the_factory_talks_to_redis(clean_redis: str) -> None:
    client = redis_client(clean_redis, socket_timeout=2)
    client.set("modelyard:test", "1")

    assert client.get("modelyard:test") == b"1"
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 2
    client.close()
