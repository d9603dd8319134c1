"""Who hears about a team's unused assets.

Active members with an address that has not bounced; if none, the team's contact address;
if none, the platform admins (MODELYARD_ADMIN_EMAILS). If nobody at all is reachable, one
recipient with an empty address stands for "nobody": the notice is recorded as delivered
to no one, so clean-up still happens on schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from modelyard.accounts.models import Membership, Team
from modelyard.lifecycle.models import Bounce

NOBODY = ""


@dataclass(frozen=True)
class Recipient:
    email: str
    user_id: int | None = None


class RecipientBook:
    """Resolves each team once per scan."""

    def __init__(self) -> None:
        self._bounced = {email.lower() for email in Bounce.objects.values_list("email", flat=True)}
        self._teams: dict[int, list[Recipient]] = {}

    def for_team(self, team_id: int) -> list[Recipient]:
        if team_id not in self._teams:
            self._teams[team_id] = self._resolve(team_id)
        return self._teams[team_id]

    def reachable(self, email: str) -> bool:
        return bool(email) and email.lower() not in self._bounced

    def _resolve(self, team_id: int) -> list[Recipient]:
        members = (
            Membership.objects.filter(team_id=team_id, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", "user_id")
        )
        reachable = [Recipient(email, user) for email, user in members if self.reachable(email)]
        if reachable:
            return sorted(set(reachable), key=lambda r: r.email)
        contact = Team.objects.filter(pk=team_id).values_list("contact_email", flat=True).first()
        if contact and self.reachable(contact):
            return [Recipient(contact)]
        admins = [Recipient(a) for a in settings.ADMIN_EMAILS if self.reachable(a)]
        return admins or [Recipient(NOBODY)]
