"""Row locks of credits (SELECT … FOR UPDATE)."""

from credits.models import Deduction, DeductionReason


def deduction_for_update(organization, deduction_id) -> Deduction | None:
    """The organization's deduction, locked (with its reason, read alongside)."""
    return (
        Deduction.objects.for_org(organization)
        .filter(pk=deduction_id)
        .select_related("reason", "reason__account")
        .select_for_update(of=("self",))
        .first()
    )


def reason_for_update(organization, reason_id) -> DeductionReason | None:
    return (
        DeductionReason.objects.for_org(organization)
        .filter(pk=reason_id)
        .select_related("account")
        .select_for_update(of=("self",))
        .first()
    )
