"""Deduction reasons: the organization's list of codes, each mapped to the GL account a
``write_off`` resolution posts to.

A new organization is seeded with the default list (``reasons_seed``, from the
``OrganizationCreated`` hook); an organization older than credits is seeded the first time
anything asks for its reasons (``reasons_ensure``). Each default account is found by number
and type (or by name) and created once, like the adjustments' own accounts.
"""

from django.db import IntegrityError, transaction

from arpilot.errors import Conflict, NotFound, ValidationFailed
from credits import lock_objects
from credits.models import DeductionReason
from receivables.models import Account
from receivables.services.adjustments import adjustment_account

# code, name, (account number, account name, account type). Pricing, promotions and
# early-payment discounts lower revenue (contra-revenue, income accounts); damaged goods,
# freight and the unexplained are expenses.
DEFAULT_REASONS = (
    ("pricing", "Pricing", (4910, "Pricing deductions", Account.Type.INCOME)),
    ("damaged_goods", "Damaged goods", (6910, "Damaged goods deductions", Account.Type.EXPENSE)),
    ("promotion", "Promotion", (4920, "Promotional allowances", Account.Type.INCOME)),
    ("freight", "Freight", (6920, "Freight deductions", Account.Type.EXPENSE)),
    (
        "early_payment_discount",
        "Early payment discount",
        (4930, "Early payment discounts", Account.Type.INCOME),
    ),
    ("unknown", "Unknown", (6930, "Unexplained deductions", Account.Type.EXPENSE)),
)
ACCOUNT_TYPES = (Account.Type.INCOME, Account.Type.EXPENSE)


@transaction.atomic
def reasons_seed(*, organization) -> None:
    """The default reasons and their accounts (idempotent: existing codes are kept)."""
    org_id = getattr(organization, "pk", organization)
    have = set(DeductionReason.objects.for_org(org_id).values_list("code", flat=True))
    for code, name, (number, account_name, type_) in DEFAULT_REASONS:
        if code in have:
            continue
        account = adjustment_account(org_id, number, account_name, type_)
        try:
            with transaction.atomic():  # a concurrent first use may seed it too
                DeductionReason.objects.create(
                    organization_id=org_id, code=code, name=name, account=account
                )
        except IntegrityError:
            pass


def reasons_ensure(organization) -> None:
    """Seed the organization's reasons if it has none (older organizations); one query once
    seeded."""
    if not DeductionReason.objects.for_org(organization).exists():
        reasons_seed(organization=organization)


def _account_by_number(organization, account_number: int) -> Account:
    account = Account.objects.for_org(organization).filter(account_number=account_number).first()
    if account is None:
        raise ValidationFailed(
            f"No account {account_number}.",
            fields={"account_number": ["Not one of the organization's accounts."]},
        )
    if account.type not in ACCOUNT_TYPES:
        raise ValidationFailed(
            f"Account {account_number} is a {account.type} account.",
            fields={"account_number": ["Must be an income (contra-revenue) or expense account."]},
        )
    return account


@transaction.atomic
def reason_create(*, organization, code: str, name: str, account_number: int) -> DeductionReason:
    """A new reason code (409 when the code is taken)."""
    reasons_ensure(organization)
    account = _account_by_number(organization, account_number)
    if DeductionReason.objects.for_org(organization).filter(code=code).exists():
        raise Conflict(f"The reason code {code!r} exists.")
    try:
        with transaction.atomic():
            return DeductionReason.objects.create(
                organization_id=organization.pk, code=code, name=name, account=account
            )
    except IntegrityError:
        raise Conflict(f"The reason code {code!r} exists.") from None


@transaction.atomic
def reason_update(*, organization, reason_id, **changes) -> DeductionReason:
    """Change a reason's ``code``, ``name``, ``account_number`` or ``is_active``; deductions
    keep their reason (a renamed code shows under its new name)."""
    reason = lock_objects.reason_for_update(organization, reason_id)
    if reason is None:
        raise NotFound("Not found.")
    if "account_number" in changes:
        reason.account = _account_by_number(organization, changes.pop("account_number"))
    code = changes.get("code")
    taken = DeductionReason.objects.for_org(organization).filter(code=code)
    if code is not None and code != reason.code and taken.exists():
        raise Conflict(f"The reason code {code!r} exists.")
    for name, value in changes.items():
        setattr(reason, name, value)
    reason.save()
    return reason
