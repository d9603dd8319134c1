"""The dispatcher's lock protocol: one row as a lock, one as a counter of requests.

Only a dispatcher starts runs, and it must count running runs and claim slots without
another dispatcher doing the same in between, on any number of machines. It does so in
rounds, each one transaction holding the row lock of the `runs` Capacity row.

A burst asks for a dispatch at every run queued and every run finished, so dispatchers
must never queue behind each other's lock. The protocol:

1. Every dispatcher first *asks*: it adds one to the `generation` of the `dispatch-asked`
   row (outside the lock, committed at once).
2. It then tries the lock with `SELECT … FOR UPDATE SKIP LOCKED`. If another dispatcher
   holds it, it leaves at once: its request is counted, and the holder will serve it.
3. The holder reads the request count, does one round, and commits (releasing the lock).
   If the count moved during the round, a request came in that the round may not have
   seen (a run finished, say), so it goes round again.
4. After `max_rounds` rounds with the count still moving it stops and says so: the caller
   continues in a new task (`handed_over`), so no request goes unserved and no task runs
   for ever under a steady stream of requests.

On SQLite, which has no row locks, the database's own write lock serialises the rounds:
`skip_locked` is ignored and a second dispatcher waits for the first instead of leaving,
which is correct, only slower.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.db import transaction
from django.db.models import F

from modelyard.jobs.models import Capacity

T = TypeVar("T")
MAX_ROUNDS = 20


@dataclass
class Served(Generic[T]):
    """What the rounds returned, and whether requests were still coming when they stopped."""

    results: list[T] = field(default_factory=list)
    handed_over: bool = False


class DispatchLock:
    """A lock and a request counter on two Capacity rows (see the module's docstring)."""

    def __init__(
        self, lock: str = "runs", asked: str = "dispatch-asked", max_rounds: int = MAX_ROUNDS
    ) -> None:
        self.lock_row, self.asked_row, self.max_rounds = lock, asked, max_rounds

    def serve(self, round_: Callable[[], list[T]]) -> Served[T]:
        """Ask, then run rounds under the lock while the requests keep moving.

        `round_` runs inside the transaction that holds the lock. Returns at once, with
        nothing done, when another dispatcher holds the lock: it serves this request."""
        self.ask()
        served: Served[T] = Served()
        for _ in range(self.max_rounds):
            with transaction.atomic():
                if not self.try_lock():
                    return served
                seen = self.asked()
                served.results += round_()
            if self.asked() == seen:
                return served
        served.handed_over = True
        return served

    def ask(self) -> None:
        """Count a request for a dispatch."""
        rows = Capacity.objects.filter(name=self.asked_row)
        if not rows.update(generation=F("generation") + 1):
            Capacity.objects.get_or_create(name=self.asked_row)

    def asked(self) -> int:
        """The number of requests so far."""
        rows = Capacity.objects.filter(name=self.asked_row)
        return rows.values_list("generation", flat=True).first() or 0

    def try_lock(self) -> bool:
        """Take the lock until the current transaction ends, or return False at once if
        another transaction holds it. Call inside `transaction.atomic()`."""
        if self._locked():
            return True
        if Capacity.objects.filter(name=self.lock_row).exists():
            return False  # the row exists, so it was skipped: someone holds it
        # A new row is locked by its creator; one created by a racing dispatcher is not.
        _, created = Capacity.objects.get_or_create(name=self.lock_row)
        return created or self._locked()

    def _locked(self) -> bool:
        rows = Capacity.objects.select_for_update(skip_locked=True).filter(name=self.lock_row)
        return rows.values_list("pk", flat=True).first() is not None
