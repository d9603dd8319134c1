"""One process at a time: the lifecycle's scans and notice sends hold a lease.

Without it two scans started together split a team's due versions between them (each
claims rows the other skipped) and each mails the recipient its own half. With it, the
second scan waits until the first has committed, then finds the work done; a send waits
for a running scan, so it mails a recipient's whole list at once.

A holder that dies leaves the lease to expire after TTL; a long scan renews it per batch.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from modelyard.lib.errors import Unavailable
from modelyard.lifecycle.models import Lease

LIFECYCLE = "lifecycle"
TTL = timedelta(minutes=5)
POLL_SECONDS = 0.2
WAIT_SECONDS = 1800.0

_held = threading.local()


@contextmanager
def hold(name: str, wait_seconds: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the lease `name` for the block, waiting up to `wait_seconds` for it to be free.

    Re-entrant within a thread, so a scan may send (or a send may scan) while holding it.
    """
    mine: dict[str, str] = _held.__dict__.setdefault("leases", {})
    if name in mine:
        yield
        return
    holder = uuid.uuid4().hex
    _acquire(name, holder, wait_seconds)
    mine[name] = holder
    try:
        yield
    finally:
        del mine[name]
        Lease.objects.filter(name=name, holder=holder).update(holder="", expires_at=timezone.now())


def renew(name: str) -> None:
    """Push the expiry of a lease this thread holds forward (call it between batches)."""
    holder = _held.__dict__.get("leases", {}).get(name)
    if holder:
        Lease.objects.filter(name=name, holder=holder).update(expires_at=timezone.now() + TTL)


def _acquire(name: str, holder: str, wait_seconds: float) -> None:
    Lease.objects.get_or_create(name=name, defaults={"expires_at": timezone.now()})
    attempts = max(1, int(wait_seconds / POLL_SECONDS))
    for _ in range(attempts):
        now = timezone.now()
        free = Q(holder="") | Q(expires_at__lt=now)
        if Lease.objects.filter(free, name=name).update(holder=holder, expires_at=now + TTL):
            return
        time.sleep(POLL_SECONDS)
    raise Unavailable(
        f"Another lifecycle scan or send has held the '{name}' lease for over "
        f"{wait_seconds:.0f} s; try again when it has finished."
    )
