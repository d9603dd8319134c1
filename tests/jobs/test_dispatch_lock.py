"""The dispatcher's lock protocol (jobs/lock.py), through its public methods: a round runs
under the lock; a dispatcher finding it taken leaves its request to the holder, who goes
round again; requests that keep coming are handed over after max_rounds."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from modelyard.jobs.lock import DispatchLock, Served
from modelyard.jobs.models import Capacity

pytestmark = pytest.mark.django_db


def test_one_round_when_nobody_else_asks() -> None:
    lock = DispatchLock()
    rounds: list[int] = []

    served = lock.serve(lambda: rounds.append(1) or [len(rounds)])

    assert (served.results, served.handed_over) == ([1], False)
    assert lock.asked() == 1  # its own request, counted
    assert set(Capacity.objects.values_list("name", flat=True)) == {"runs", "dispatch-asked"}


def test_requests_that_keep_coming_are_handed_over_after_max_rounds() -> None:
    lock = DispatchLock(max_rounds=3)
    rounds: list[int] = []

    def a_request_arrives_during_each_round() -> list[int]:
        lock.ask()  # as a run finishing meanwhile would
        rounds.append(len(rounds))
        return [len(rounds)]

    served = lock.serve(a_request_arrives_during_each_round)

    assert served.results == [1, 2, 3]
    assert served.handed_over  # the caller goes on in a new task: nothing dropped, no endless task


@pytest.fixture
def postgresql_only() -> None:
    """Both rows, as the migrations create them (a transactional test empties the tables),
    on a database with row locks."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks: its dispatchers take turns on the database lock")
    for name in ("runs", "dispatch-asked"):
        Capacity.objects.get_or_create(name=name)


@pytest.mark.django_db(transaction=True)
def test_the_lock_is_held_for_the_round_only(postgresql_only) -> None:
    lock = DispatchLock()
    seen: list[object] = []

    lock.serve(lambda: seen.append(in_other_thread(lambda: taken(lock))) or [])

    assert seen == [True]  # another dispatcher found it taken while the round ran
    assert in_other_thread(lambda: taken(lock)) is False  # free once the round committed


def taken(lock: DispatchLock) -> bool:
    with transaction.atomic():
        return not lock.try_lock()


@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_finding_the_lock_taken_leaves_its_request_to_the_holder(
    postgresql_only,
) -> None:
    lock = DispatchLock()
    in_round, release = threading.Event(), threading.Event()
    rounds: list[str] = []

    def holder_round() -> list[str]:
        if not rounds:
            in_round.set()
            assert release.wait(30)
        rounds.append("holder")
        return ["holder"]

    with serving(lock, holder_round) as holder:
        assert in_round.wait(30)
        second = in_other_thread(lambda: lock.serve(lambda: rounds.append("second") or []))
        assert second == Served([], handed_over=False)  # left at once, its request counted
        release.set()

    assert holder() == Served(["holder", "holder"], handed_over=False)  # went round again
    assert rounds == ["holder", "holder"]  # the second dispatcher's round never ran


def in_other_thread(work: Callable[[], object]) -> object:
    """Run it on a connection of its own, as another dispatcher would."""
    result: list[object] = []

    def target() -> None:
        try:
            result.append(work())
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    return result[0]


class serving:
    """lock.serve(round_) in a thread; calling the context's value returns what it served."""

    def __init__(self, lock: DispatchLock, round_: Callable[[], list[str]]) -> None:
        self.result: list[Served[str]] = []
        self.thread = threading.Thread(target=self._run, args=(lock, round_))

    def _run(self, lock: DispatchLock, round_: Callable[[], list[str]]) -> None:
        try:
            self.result.append(lock.serve(round_))
        finally:
            connections.close_all()

    def __enter__(self) -> Callable[[], Served[str]]:
        self.thread.start()
        return lambda: self.result[0]

    def __exit__(self, *exc: object) -> None:
        self.thread.join(30)
        assert not self.thread.is_alive()
