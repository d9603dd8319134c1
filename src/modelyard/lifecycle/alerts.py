"""A store refused for good to delete a version's bytes: tell the team and the admins now.

Waiting for the sweep to try again would only repeat the refusal; someone has to change
the store (permissions, object lock, an external table). The ledger rows are written in
the transaction that recorded the failure, one per recipient and deletion, so however
often the deletion fails and is retried, each recipient is mailed once; the mail goes
out after the commit through the notices' sender.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from modelyard.lifecycle.models import Notice, Step
from modelyard.lifecycle.recipients import Recipient, RecipientBook
from modelyard.registry.models import AssetVersion


def on_deletion_failed(sender: Any, version_id: int, permanent: bool, **details: Any) -> None:
    """Receiver of registry.signals.deletion_failed."""
    if not permanent:
        return  # the sweep retries; the pages show the error and the next attempt
    version = AssetVersion.objects.get(pk=version_id)
    if plan_refusal_notices(version):
        from modelyard.lifecycle.tasks import send_notices

        transaction.on_commit(send_notices.delay)


def plan_refusal_notices(version: AssetVersion) -> int:
    """Ledger rows for this deletion's refusal; returns how many are new."""
    started: datetime = version.lifecycle_changed_at  # one alert per deletion, not per try
    rows = [
        Notice(
            version=version,
            team_id=version.team_id,
            step=Step.DELETION_REFUSED,
            cycle=started,
            recipient=person.email,
            recipient_user_id=person.user_id,
            delete_on=started,
        )
        for person in recipients(version.team_id)
    ]
    before = Notice.objects.filter(version=version, step=Step.DELETION_REFUSED).count()
    Notice.objects.bulk_create(rows, ignore_conflicts=True)
    return Notice.objects.filter(version=version, step=Step.DELETION_REFUSED).count() - before


def recipients(team_id: int) -> list[Recipient]:
    """The team's people (or its fallback), and every platform admin."""
    book = RecipientBook()
    people = {person.email.lower(): person for person in book.for_team(team_id) if person.email}
    for address in settings.ADMIN_EMAILS:
        if book.reachable(address):
            people.setdefault(address.lower(), Recipient(address))
    return sorted(people.values(), key=lambda person: person.email)
