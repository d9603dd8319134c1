"""Teams and memberships. Each function is one transaction and writes its audit row."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from modelyard.accounts.models import Membership, Role, Team
from modelyard.accounts.names import check_name
from modelyard.audit.services import record
from modelyard.lib.errors import Conflict, InvalidInput, NotFound

Actor = User | AnonymousUser | str | None


def get_team(name: str) -> Team:
    try:
        return Team.objects.get(name=name)
    except Team.DoesNotExist:
        raise NotFound(f"No team named '{name}'. List teams with `modelyard teams list`.") from None


def get_user(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(f"No user named '{username}'.") from None


@transaction.atomic
def create_team(
    actor: Actor,
    name: str,
    *,
    display_name: str = "",
    contact_email: str = "",
    owner: User | None = None,
) -> Team:
    check_name(name, "team")
    team = Team(name=name, display_name=display_name, contact_email=contact_email)
    try:
        team.full_clean()
    except ValidationError as error:
        raise InvalidInput(_first_message(error), fields=error.message_dict) from None
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError:
        raise Conflict(f"A team named '{name}' already exists.") from None
    record(actor, "team.created", team=team, details={"name": name})
    if owner is not None:
        _add_member(actor, team, owner, Role.OWNER)
    return team


@transaction.atomic
def create_user(
    actor: Actor,
    username: str,
    *,
    email: str = "",
    password: str | None = None,
    staff: bool = False,
) -> User:
    """A person who signs in; staff may use the admin and act on every team."""
    check_name(username, "user")
    if User.objects.filter(username=username).exists():
        raise Conflict(f"A user named '{username}' already exists.")
    user = User.objects.create_user(username, email, password)
    user.is_staff = user.is_superuser = staff
    user.save(update_fields=["is_staff", "is_superuser"])
    record(actor, "user.created", details={"user": username, "staff": staff})
    return user


@transaction.atomic
def set_membership(actor: Actor, team: Team, user: User, role: str) -> Membership:
    if role not in Role.values:
        raise InvalidInput(f"Unknown role '{role}'; use one of: {', '.join(Role.values)}.")
    return _add_member(actor, team, user, role)


def _add_member(actor: Actor, team: Team, user: User, role: str) -> Membership:
    membership, created = Membership.objects.update_or_create(
        user=user, team=team, defaults={"role": role}
    )
    action = "team.member_added" if created else "team.member_role_changed"
    record(actor, action, team=team, details={"user": user.get_username(), "role": role})
    return membership


@transaction.atomic
def remove_membership(actor: Actor, team: Team, user: User) -> None:
    deleted, _ = Membership.objects.filter(team=team, user=user).delete()
    if not deleted:
        raise NotFound(f"'{user.get_username()}' is not a member of team '{team.name}'.")
    record(actor, "team.member_removed", team=team, details={"user": user.get_username()})


@transaction.atomic
def set_password(actor: Actor, user: User, password: str) -> None:
    """Set the password a person signs in to the web UI with, checked by Django's validators."""
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise InvalidInput(f"Password not set: {' '.join(error.messages)}") from None
    user.set_password(password)
    user.save(update_fields=["password"])
    record(actor, "user.password_set", details={"user": user.get_username()})


@transaction.atomic
def deactivate_user(actor: Actor, user: User) -> None:
    """Stop a person signing in; their tokens are refused too (tokens need an active user),
    and their history stays, which deleting the user would lose."""
    if not user.is_active:
        raise Conflict(f"'{user.get_username()}' is already deactivated.")
    user.is_active = False
    user.save(update_fields=["is_active"])
    record(actor, "user.deactivated", details={"user": user.get_username()})


def _first_message(error: ValidationError) -> str:
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
