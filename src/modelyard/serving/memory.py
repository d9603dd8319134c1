"""How much memory a loaded model takes, and which models to unload to stay in a budget.

A server that holds many models (one per team, per region…) cannot keep them all in
memory. With a budget, loading a model unloads the least recently used others until the
footprints fit; an unloaded ("cold") model loads again on its next request, and that
cold-load time is reported. A footprint is the process's resident-memory growth while
the model loaded, and at least the size of its files: the growth alone can read low when
the allocator reuses freed memory.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Protocol

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Loaded(Protocol):
    name: str
    footprint: int
    last_used: float

    @property
    def is_loaded(self) -> bool: ...


def resident_bytes() -> int:
    """This process's resident memory (Linux /proc; 0 where it is not available)."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * PAGE_BYTES


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return None


def release_freed() -> None:
    """Hand the memory of unloaded models back to the system. glibc keeps freed memory for
    reuse, so without this the resident size never shows an unload, and the next load,
    landing in that reused memory, would measure a footprint of almost nothing."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def to_unload(slots: Iterable[Loaded], keep: Loaded, budget_bytes: int) -> list[Loaded]:
    """The least recently used loaded slots (never `keep`) whose unloading fits the budget."""
    loaded = [slot for slot in slots if slot.is_loaded]
    total = sum(slot.footprint for slot in loaded)
    victims = []
    for slot in sorted(loaded, key=lambda s: s.last_used):
        if total <= budget_bytes:
            break
        if slot is not keep:
            victims.append(slot)
            total -= slot.footprint
    return victims
