"""Sending notices: one email per recipient, team and step, listing all of its versions.

Unsent ledger rows are grouped by (team, step, recipient) and claimed with a conditional
update, so two senders never mail the same rows. Rows are marked sent only after the SMTP
server accepted the message; on failure the claim is released and the error recorded, and
the caller (a Celery task) retries. A version's notice counts as sent, and its deletion
clock starts, only once at least one of its rows was delivered (or nobody was reachable).
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from modelyard.lib.mail import is_transient_failure, render_email, send
from modelyard.lifecycle import lease
from modelyard.lifecycle.dates import delete_on
from modelyard.lifecycle.links import url_for
from modelyard.lifecycle.models import Bounce, Notice, Step
from modelyard.lifecycle.policies import PolicyBook
from modelyard.lifecycle.recipients import RecipientBook
from modelyard.registry import states
from modelyard.registry.models import AssetVersion


def version_path(version: AssetVersion) -> str:
    asset = version.asset
    return reverse(
        "registry:version", args=[asset.kind, asset.team.name, asset.name, version.version]
    )


log = logging.getLogger(__name__)
CLAIM_TIMEOUT = timedelta(minutes=10)
SENT_FIELD = {Step.FIRST_NOTICE: "notice_sent_at", Step.FINAL_NOTICE: "final_notice_sent_at"}
TEMPLATE = {
    Step.FIRST_NOTICE: "lifecycle_first_notice",
    Step.FINAL_NOTICE: "lifecycle_final_notice",
    Step.DELETION_REFUSED: "lifecycle_deletion_refused",
}


@dataclass
class SendResult:
    emails: int = 0
    notices: int = 0
    failures: list[str] = field(default_factory=list)


class DeliveryFailed(Exception):
    """Some notices could not be sent; they stay in the ledger for the retry.

    The message alone rebuilds it (Celery re-creates exceptions from their arguments).
    """

    def __init__(self, message: str, result: SendResult | None = None, unsent: int = 0) -> None:
        super().__init__(message)
        self.result = result or SendResult()
        self.unsent = unsent

    @classmethod
    def of(cls, result: SendResult) -> DeliveryFailed:
        unsent = Notice.objects.filter(sent_at__isnull=True).count()
        message = f"{unsent} notice{'s' if unsent != 1 else ''} could not be sent: "
        return cls(message + result.failures[0], result, unsent)


def send_pending(now: datetime | None = None) -> SendResult:
    """Send every unsent notice, one email per (team, step, recipient).

    Holds the lifecycle lease, so it waits for a scan that is still writing notices and
    then mails each recipient the whole list at once.
    """
    now = now or timezone.now()
    result = SendResult()
    with lease.hold(lease.LIFECYCLE):
        # A bounced address re-routes its notices to the next recipients: a second pass.
        for _ in range(2):
            rerouted = _send_all_groups(now, result)
            if not rerouted:
                break
    if result.failures:
        raise DeliveryFailed.of(result)
    return result


def _send_all_groups(now: datetime, result: SendResult) -> int:
    groups = (
        Notice.objects.filter(sent_at__isnull=True)
        .values_list("team_id", "step", "recipient")
        .distinct()
        .order_by("team_id", "step", "recipient")
    )
    rerouted = 0
    for team_id, step, recipient in list(groups):
        try:
            rerouted += _send_group(team_id, step, recipient, now, result)
        except (smtplib.SMTPException, OSError) as error:
            result.failures.append(f"mail to {recipient} failed ({type(error).__name__}: {error})")
    return rerouted


def _claim(team_id: int, step: str, recipient: str, now: datetime) -> str | None:
    claim = uuid.uuid4().hex
    claimed = (
        Notice.objects.filter(team_id=team_id, step=step, recipient=recipient, sent_at__isnull=True)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(claim=claim, claimed_at=now)
    )
    return claim if claimed else None


def _send_group(team_id: int, step: str, recipient: str, now: datetime, result: SendResult) -> int:
    """Send one group; return how many notices were re-routed after a permanent bounce."""
    claim = _claim(team_id, step, recipient, now)
    if claim is None:
        return 0
    notices = list(
        Notice.objects.filter(claim=claim, sent_at__isnull=True)
        .select_related("team", "version__asset__team", "version__created_by")
        .prefetch_related("version__artifacts")
        .order_by("version__asset__name", "version__version")
    )
    try:
        if recipient:
            send(render_email(TEMPLATE[Step(step)], context(notices, now), to=[recipient]))
            result.emails += 1
        else:
            log.warning("Team %s has nobody to notify; continuing on schedule", notices[0].team)
    except Exception as error:
        # Only a mail server's permanent refusal is a bounce; a bug must not look like one.
        permanent = isinstance(error, smtplib.SMTPException) and not is_transient_failure(error)
        if recipient and permanent:
            return _reroute(recipient, notices, str(error))
        Notice.objects.filter(claim=claim, sent_at__isnull=True).update(
            claim="", claimed_at=None, attempts=F("attempts") + 1, last_error=str(error)[:2000]
        )
        raise
    _mark_sent(claim, step, notices, now)
    result.notices += len(notices)
    return 0


@transaction.atomic
def _reroute(recipient: str, notices: list[Notice], reason: str) -> int:
    """The address bounced for good: skip it from now on and notify the next in line."""
    Bounce.objects.get_or_create(email=recipient, defaults={"reason": reason[:2000]})
    Notice.objects.filter(pk__in=[n.pk for n in notices]).delete()
    people = RecipientBook().for_team(notices[0].team_id)
    Notice.objects.bulk_create(
        [
            Notice(
                version_id=n.version_id,
                team_id=n.team_id,
                step=n.step,
                cycle=n.cycle,
                recipient=p.email,
                recipient_user_id=p.user_id,
                delete_on=n.delete_on,
            )
            for n in notices
            for p in people
        ],
        ignore_conflicts=True,
    )
    log.warning("%s bounced permanently (%s); notices re-routed", recipient, reason)
    return len(notices)


def _mark_sent(claim: str, step: str, notices: list[Notice], now: datetime) -> None:
    Notice.objects.filter(claim=claim, sent_at__isnull=True).update(sent_at=now, last_error="")
    sent_field = SENT_FIELD.get(Step(step))
    if sent_field is None:  # an alert, not a step of the unused cycle
        return
    states.mark_notice_sent([n.version_id for n in notices], sent_field, now)


def context(notices: list[Notice], now: datetime) -> dict[str, Any]:
    team = notices[0].team
    book = PolicyBook()
    items = [_item(notice, now, book) for notice in notices]
    first_deletion = min(item["delete_on"] for item in items)
    return {
        "team": team,
        "team_name": team.display_name or team.name,
        "step": notices[0].step,
        "items": items,
        "total_versions": len(items),
        "total_bytes": sum(item["size"] for item in items),
        "first_deletion": first_deletion,
        "days_left": max(0, (first_deletion - now).days),
        "owners": _owners(team.pk),
        "team_url": f"{settings.BASE_URL}{reverse('lifecycle:team', args=[team.name])}",
        "member": notices[0].recipient_user_id is not None,
    }


def _item(notice: Notice, now: datetime, book: PolicyBook) -> dict[str, Any]:
    version = notice.version
    artifacts = list(version.artifacts.all())
    thresholds = book.for_version(version.team_id, version.kind)
    notices_step = notice.step in SENT_FIELD
    return {
        "ref": version.ref,
        "kind": version.get_kind_display(),
        # Every file, derived ones (an ONNX conversion) included: they are deleted too.
        "size": sum(a.size_bytes for a in artifacts),
        "files": [{"name": a.name, "size": a.size_bytes} for a in artifacts],
        "location": artifacts[0].uri if artifacts else "",
        "more_locations": max(0, len(artifacts) - 1),
        "registered_by": version.created_by.get_username() if version.created_by else "unknown",
        "last_used": version.last_accessed_at,
        "idle_days": (now - version.unused_since()).days,
        # From the policy now and the notices sent, as the pages show it; the ledger's
        # date was the plan when the notice was written.
        "delete_on": delete_on(version, thresholds, now) or notice.delete_on,
        "keep_url": url_for(notice.pk, "keep") if notices_step else "",
        "delete_url": (
            url_for(notice.pk, "delete") if notices_step and notice.recipient_user_id else ""
        ),
        "deletion_error": version.deletion_error,
        "deletion_attempts": version.deletion_attempts,
        "next_deletion_attempt": version.next_deletion_attempt,
        "version_url": f"{settings.BASE_URL}{version_path(version)}",
    }


def _owners(team_id: int) -> list[str]:
    from modelyard.accounts.models import Membership, Role

    owners = Membership.objects.filter(team_id=team_id, role=Role.OWNER, user__is_active=True)
    return sorted(owners.values_list("user__username", flat=True))
