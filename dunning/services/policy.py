"""The dunning policy: seeded for a new organization, read, and replaced over the API."""

from datetime import time
from decimal import Decimal
from itertools import pairwise

from django.db import transaction

from arpilot.errors import ValidationFailed
from dunning import lock_objects, selectors
from dunning.models import DisputeReason, DunningLevel, DunningPolicy
from dunning.services.defaults import (
    DEFAULT_MINIMUM_OVERDUE,
    DEFAULT_REASONS,
    DEFAULT_REMITTANCE,
    default_levels,
)
from dunning.services.templating import TEMPLATE_FIELDS, template_error


@transaction.atomic
def organization_seed(*, organization) -> DunningPolicy:
    """The default policy and dispute reasons of an organization (idempotent)."""
    policy, created = DunningPolicy.objects.get_or_create(
        organization=organization,
        defaults={
            "minimum_overdue": DEFAULT_MINIMUM_OVERDUE,
            "remittance_instructions": DEFAULT_REMITTANCE,
        },
    )
    if created:
        _levels_replace(policy, default_levels())
    if not DisputeReason.objects.for_org(organization).exists():
        DisputeReason.objects.bulk_create(
            DisputeReason(organization_id=policy.organization_id, code=code, label=label)
            for code, label in DEFAULT_REASONS
        )
    return policy


def policy_get_or_seed(*, organization) -> DunningPolicy:
    """The policy with its levels; an organization from before collections gets the default."""
    policy = selectors.policy_get(organization=organization)
    if policy is None:
        organization_seed(organization=organization)
        policy = selectors.policy_get(organization=organization)
    return policy


def levels_validate(levels: list[dict]) -> None:
    """Levels numbered without repeats, later ones later, templates that compile; a
    ``ValidationFailed`` naming ``levels.<index>.<field>`` otherwise."""
    errors: dict[str, list[str]] = {}
    seen_levels: set[int] = set()
    for index, level in enumerate(levels):
        if level["level"] in seen_levels:
            errors[f"levels.{index}.level"] = [f"Level {level['level']} appears twice."]
        seen_levels.add(level["level"])
        for field in TEMPLATE_FIELDS:
            problem = template_error(field, level.get(field, ""))
            if problem:
                errors[f"levels.{index}.{field}"] = [problem]
    ordered = sorted(levels, key=lambda item: item["level"])
    for before, after in pairwise(ordered):
        if after["days_after_due"] <= before["days_after_due"]:
            index = levels.index(after)
            errors.setdefault(f"levels.{index}.days_after_due", []).append(
                f"Must be more than level {before['level']}'s {before['days_after_due']} days."
            )
    if errors:
        name, messages = next(iter(errors.items()))
        raise ValidationFailed(f"Invalid input: {name}: {messages[0]}", fields=errors)


@transaction.atomic
def policy_update(
    *,
    organization,
    enabled: bool,
    run_at: time,
    minimum_overdue: Decimal,
    levels: list[dict],
    remittance_instructions: str = "",
) -> DunningPolicy:
    """Replace the organization's policy and its levels (what ``PUT`` does)."""
    levels_validate(levels)
    policy_get_or_seed(organization=organization)
    policy = lock_objects.policy_for_update(organization).get()
    policy.enabled = enabled
    policy.run_at = run_at
    policy.minimum_overdue = minimum_overdue
    policy.remittance_instructions = remittance_instructions
    policy.save()
    _levels_replace(policy, levels)
    return selectors.policy_get(organization=organization)


def _levels_replace(policy: DunningPolicy, levels: list[dict]) -> None:
    DunningLevel.objects.filter(policy=policy).delete()
    DunningLevel.objects.bulk_create(
        DunningLevel(
            organization_id=policy.organization_id,
            policy=policy,
            level=level["level"],
            days_after_due=level["days_after_due"],
            contact_escalation_levels=sorted(set(level.get("contact_escalation_levels") or [1])),
            subject=level["subject"],
            body_text=level["body_text"],
            body_html=level.get("body_html", ""),
            attach_statement=level.get("attach_statement", False),
        )
        for level in sorted(levels, key=lambda item: item["level"])
    )
