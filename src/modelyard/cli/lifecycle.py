"""`modelyard lifecycle …`: operator tools for the unused-asset lifecycle (in-process)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from modelyard.cli.operate import django_setup

KINDS = ["model", "dataset", "featureset"]
# Exit code of `scan` and `send` when mail failed: the scan's changes are committed and the
# unsent notices stay queued for the worker (1 is every other error, 2 a usage error).
MAIL_FAILED = 3


@click.group()
def lifecycle() -> None:
    """Find unused versions, notify their owners, delete them on schedule."""


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    from django.utils import timezone
    from django.utils.dateparse import parse_date, parse_datetime

    moment = parse_datetime(text)
    if moment is None and (day := parse_date(text)) is not None:
        moment = datetime.combine(day, datetime.min.time())
    if moment is None:
        raise click.BadParameter(f"{text!r} is not an ISO date or time, e.g. 2027-01-14T09:00Z.")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


@lifecycle.command()
@click.option("--dry-run", is_flag=True, help="Show what is due; change nothing, send nothing.")
@click.option("--at", "at_text", metavar="ISO-TIME", help="Scan as of this time (forecasting).")
@click.option("--allow-future", is_flag=True, help="Allow a real (not dry) scan at a future --at.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def scan(dry_run: bool, at_text: str | None, allow_future: bool, as_json: bool) -> None:
    """Run a scan now: notices planned and sent, deletions queued for the workers."""
    django_setup()
    from django.utils import timezone

    from modelyard.lifecycle import notify
    from modelyard.lifecycle.scan import scan as run

    at = _parse_time(at_text) or timezone.now()
    if at > timezone.now() and not dry_run and not allow_future:
        raise click.UsageError(
            "A real scan at a future time acts on the future: add "
            "--allow-future to mean it, or --dry-run to forecast."
        )
    result = run(at, dry_run=dry_run)
    # Every real scan also sends what an earlier one left unsent.
    sent, failed = _send(at) if not dry_run else (notify.SendResult(), None)
    _print_scan(result, sent.emails, as_json)
    _exit_if_unsent(failed)


def _send(at: datetime | None = None) -> tuple[Any, Any]:
    """Send the unsent notices: (what was sent, the failure or None). Never raises for mail."""
    from modelyard.lifecycle import notify

    try:
        return notify.send_pending(at), None
    except notify.DeliveryFailed as failure:
        return failure.result, failure


def _exit_if_unsent(failure: Any) -> None:
    """A mail failure after the scan committed: one line and exit code 3, no traceback."""
    if failure is None:
        return
    click.echo(
        f"{failure}; they will be retried by the worker, or run `modelyard lifecycle send`.",
        err=True,
    )
    raise SystemExit(MAIL_FAILED)


@lifecycle.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def send(as_json: bool) -> None:
    """Send the notices still unsent now (the worker also does, every 15 minutes).

    Each recipient gets one email per team and step; a notice already sent is never sent
    again. Exit code 3 when some could not be sent (they stay queued).
    """
    django_setup()
    sent, failed = _send()
    if as_json:
        unsent = failed.unsent if failed else 0
        body = {"emails_sent": sent.emails, "notices_sent": sent.notices, "unsent": unsent}
        click.echo(json.dumps({**body, "failures": sent.failures}, indent=2))
    else:
        click.echo(f"{sent.emails} email(s) sent for {sent.notices} notice(s).")
    _exit_if_unsent(failed)


def _print_scan(result: Any, sent: int, as_json: bool) -> None:
    from modelyard.registry.models import AssetVersion

    refs = {
        v.pk: v.ref
        for v in AssetVersion.objects.select_related("asset__team").filter(
            pk__in=[p.version_id for p in result.planned]
        )
    }
    rows = [
        {
            "ref": refs.get(p.version_id),
            "action": str(p.action),
            "idle_days": p.idle_days,
            "delete_on": p.delete_on.isoformat() if p.delete_on else None,
        }
        for p in result.planned
    ]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "at": result.at.isoformat(),
                    "dry_run": result.dry_run,
                    "planned": rows,
                    "applied": dict(result.applied),
                    "emails_sent": sent,
                },
                indent=2,
            )
        )
        return
    verb = "would" if result.dry_run else "did"
    click.echo(
        f"Scan as of {result.at:%Y-%m-%d %H:%M} UTC ({'dry run' if result.dry_run else 'applied'}):"
    )
    for row in rows:
        when = f", deletion on {row['delete_on'][:10]}" if row["delete_on"] else ""
        click.echo(f"  {row['action']:<13} {row['ref']}  (unused {row['idle_days']} days{when})")
    click.echo(f"{len(rows)} step(s) {verb} apply; {sent} email(s) sent.")


@lifecycle.group()
def policy() -> None:
    """Thresholds per kind, team and environment (the most specific wins)."""


@policy.command("list")
@click.option("--json", "as_json", is_flag=True)
def policy_list(as_json: bool) -> None:
    """List policies; versions no policy matches use 30/50/60 days, 10 days grace."""
    django_setup()
    from modelyard.lifecycle.models import Policy

    rows = [
        {
            "scope": p.scope,
            "first": p.first_notice_days,
            "final": p.final_notice_days,
            "delete": p.delete_after_days,
            "grace": p.grace_days,
            "keep_newest": p.keep_newest,
        }
        for p in Policy.objects.select_related("team").order_by("environment", "kind")
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows or [
        {
            "scope": "built-in default",
            "first": 30,
            "final": 50,
            "delete": 60,
            "grace": 10,
            "keep_newest": 0,
        }
    ]:
        click.echo(
            f"{row['scope']:<30} first {row['first']}d, final {row['final']}d, delete "
            f"{row['delete']}d, grace {row['grace']}d, keep newest {row['keep_newest']}"
        )


@policy.command("set")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Default: every kind.")
@click.option("--team", default=None, help="Default: every team.")
@click.option("--environment", type=click.Choice(["dev", "staging", "production"]), default=None)
@click.option("--first", type=int, default=30, show_default=True, help="Days to first notice.")
@click.option("--final", type=int, default=50, show_default=True, help="Days to final notice.")
@click.option("--delete", type=int, default=60, show_default=True, help="Days to deletion.")
@click.option(
    "--grace",
    type=int,
    default=10,
    show_default=True,
    help="Least days between the final notice and deletion.",
)
@click.option("--keep-newest", type=int, default=0, show_default=True)
def policy_set(
    kind: str | None,
    team: str | None,
    environment: str | None,
    first: int,
    final: int,
    delete: int,
    grace: int,
    keep_newest: int,
) -> None:
    """Create or replace the policy of one scope."""
    django_setup()
    from modelyard.accounts.services import get_team
    from modelyard.lifecycle.services import set_policy

    found = get_team(team) if team else None
    saved = set_policy(
        "cli",
        kind=kind or "",
        team=found,
        environment=environment or "",
        first=first,
        final=final,
        delete=delete,
        grace=grace,
        keep_newest=keep_newest,
    )
    click.echo(f"Policy {saved}")


def _version(kind: str, ref_text: str) -> Any:
    from modelyard.registry import services
    from modelyard.registry.refs import parse_ref

    ref = parse_ref(ref_text)
    asset = services.get_asset(kind, ref.team, ref.name)
    if ref.alias:
        return services.resolve_alias(asset, ref.alias)
    return services.get_version(asset, ref.version or asset.latest_version)


kind_option = click.option("--kind", type=click.Choice(KINDS), default="model", show_default=True)


@lifecycle.command()
@click.argument("ref")
@kind_option
@click.option("--reason", default="")
def keep(ref: str, kind: str, reason: str) -> None:
    """Restart REF's unused clock (TEAM/NAME:VERSION), as a Keep link does."""
    django_setup()
    from modelyard.lifecycle.services import keep as keep_version

    version = keep_version("cli", _version(kind, ref), reason)
    click.echo(f"Kept {version.ref}.")


@lifecycle.command()
@click.argument("ref")
@kind_option
@click.option("--until", "until_text", help="ISO date; omit with --clear to unpin.")
@click.option("--clear", is_flag=True, help="Remove the pin.")
@click.option("--reason", default="")
def pin(ref: str, kind: str, until_text: str | None, clear: bool, reason: str) -> None:
    """Protect REF until a date: never noticed or deleted before then."""
    django_setup()
    from modelyard.lifecycle.services import pin as pin_version

    if not clear and not until_text:
        raise click.UsageError("Give --until DATE, or --clear to unpin.")
    version = pin_version(
        "cli", _version(kind, ref), None if clear else _parse_time(until_text), reason
    )
    click.echo(
        f"{version.ref} pinned until {version.pinned_until:%Y-%m-%d}."
        if version.pinned_until
        else f"{version.ref} is no longer pinned."
    )


@lifecycle.command()
@click.argument("ref")
@kind_option
@click.option("--reason", required=True, help="Case or ticket; goes in the audit trail.")
@click.option("--release", is_flag=True, help="Lift the hold.")
def hold(ref: str, kind: str, reason: str, release: bool) -> None:
    """Place (or --release) a legal hold on REF: nothing deletes it meanwhile."""
    django_setup()
    from modelyard.lifecycle.services import hold as hold_version

    version = hold_version("cli", _version(kind, ref), not release, reason)
    click.echo(f"{version.ref}: legal hold {'placed' if version.legal_hold else 'released'}.")


@lifecycle.command()
@click.option("--json", "as_json", is_flag=True)
def report(as_json: bool) -> None:
    """Bytes reclaimed so far, per team and store."""
    django_setup()
    from modelyard.lifecycle.services import reclaimed

    rows = reclaimed()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['team']:<24} {row['store']:<6} {row['bytes']:>16,} bytes")
    click.echo(f"{sum(r['bytes'] for r in rows):,} bytes reclaimed in all.")


def register(group: Any) -> None:
    group.add_command(lifecycle)
