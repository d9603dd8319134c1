"""Signed keep/delete links in notices.

Each link is signed with a salt of its own purpose, expires, names one notice (so one
recipient, one version, one step) and works once: using it stores the token's hash.

A link is not a credential for deleting: mail gets forwarded. Delete needs the signed-in
user to be an active member of the owning team; Keep, which only postpones, may act from the
link alone, in the name of the link's recipient. A signed-in user of another team is refused
either way, and the refusal is audited.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from modelyard.accounts.models import Membership
from modelyard.accounts.permissions import refuse, require_member
from modelyard.lifecycle.models import Notice, UsedLink

ACTIONS = ("keep", "delete")
SALTS = {action: f"modelyard.lifecycle.{action}-link" for action in ACTIONS}
MAX_AGE = timedelta(days=45)


class LinkError(Exception):
    """Why a link cannot be used: `invalid`, `expired` or `used` (with its notice if known)."""

    def __init__(self, reason: str, notice: Notice | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.notice = notice


def token_for(notice_id: int, action: str) -> str:
    return signing.dumps({"n": notice_id}, salt=SALTS[action], compress=True)


def url_for(notice_id: int, action: str) -> str:
    path = reverse("lifecycle:link", args=[action, token_for(notice_id, action)])
    return f"{settings.BASE_URL}{path}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_link(action: str, token: str) -> Notice:
    """The notice a valid, unexpired, unused link names; LinkError otherwise."""
    if action not in SALTS:
        raise LinkError("invalid")
    try:
        payload = signing.loads(token, salt=SALTS[action], max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise LinkError("expired", _notice_of_expired(token, action)) from None
    except signing.BadSignature:
        raise LinkError("invalid") from None
    notice = (
        Notice.objects.select_related("version__asset__team", "team")
        .filter(pk=payload.get("n"))
        .first()
    )
    if notice is None:
        raise LinkError("invalid")
    if UsedLink.objects.filter(token_hash=_hash(token)).exists():
        raise LinkError("used", notice)
    return notice


def _notice_of_expired(token: str, action: str) -> Notice | None:
    try:
        payload = signing.loads(token, salt=SALTS[action])  # signature fine, only too old
    except signing.BadSignature:
        return None
    return Notice.objects.select_related("version__asset__team").filter(pk=payload.get("n")).first()


def mark_used(action: str, token: str, notice: Notice) -> None:
    """Record the link as used; LinkError('used') if another click got there first."""
    try:
        with transaction.atomic():
            UsedLink.objects.create(token_hash=_hash(token), notice=notice, action=action)
    except IntegrityError:
        raise LinkError("used", notice) from None


def needs_sign_in(user: User | AnonymousUser, action: str) -> bool:
    """Whether the link's page must send the browser to sign in first."""
    return action == "delete" and not user.is_authenticated


def acting_user(user: User | AnonymousUser, action: str, notice: Notice) -> User | str:
    """Who acts when `user` uses the link: the signed-in user if a member of the owning
    team, else for Keep the link's recipient ("alice via link"). Forbidden (audited) if not.
    """
    team, doing = notice.team, f"{action} {notice.version.ref} from a lifecycle link"
    if isinstance(user, User):  # signed in
        require_member(user, team, doing)
        return user
    via_link = f"{notice.recipient_user or notice.recipient or 'someone'} via link"
    recipient = notice.recipient_user_id
    if recipient is not None and not _active_member(recipient, notice):
        raise refuse(
            via_link, doing, team, f"The link's recipient is no longer a member of team {team}."
        )
    return via_link


def _active_member(user_id: int, notice: Notice) -> bool:
    return Membership.objects.filter(
        team=notice.team, user_id=user_id, user__is_active=True
    ).exists()
