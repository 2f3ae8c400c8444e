"""Write a realistic N-line CSV bank export (for the payment-import benchmark).

    .venv/bin/python bench/gen_bank_csv.py 100000 /tmp/bank_100k.csv [--seed 7] [--style us|eu]
        [--debit-share 0.15] [--no-ids]

The file looks like a business checking export: mostly incoming customer payments (ACH,
wires, check deposits) whose references spell invoice numbers in the ways payers do
("INV-1042", "Inv 1043", "invoice#0001044", several invoices, none at all), plus outgoing
debits the import must skip. ``generate_csv`` is importable for benchmarks that need the
bytes in memory or their own payer names and invoice numbers.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

_PREFIXES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Cyberdyne",
    "Vandelay",
    "Bluth",
    "Pied Piper",
    "Dunder Mifflin",
    "Wonka",
    "Gringotts",
    "Oceanic",
    "Massive Dynamic",
    "Aperture",
    "Black Mesa",
    "Monarch",
    "Nakatomi",
    "Virtucon",
    "Prestige",
    "Sterling",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
]
_SUFFIXES = [
    "Corp",
    "Corporation",
    "Inc",
    "Inc.",
    "LLC",
    "Ltd",
    "Co",
    "Industries",
    "Holdings",
    "Group",
    "Supply",
    "Logistics",
    "Foods",
    "Labs",
    "Partners",
    "Manufacturing",
]
_MIDDLES = [
    "",
    "",
    "Global",
    "North American",
    "Pacific",
    "Atlantic",
    "Midwest",
    "Coastal",
    "United",
    "Advanced",
    "Precision",
    "Industrial",
    "Digital",
    "Metro",
    "Summit",
    "Pioneer",
    "Valley",
    "Harbor",
    "Granite",
    "Evergreen",
]
_STATES = [
    "Ohio",
    "Texas",
    "Nevada",
    "Oregon",
    "Georgia",
    "Maine",
    "Utah",
    "Iowa",
    "Kansas",
    "Idaho",
    "Vermont",
    "Delaware",
    "Florida",
    "Illinois",
    "Arizona",
    "Montana",
    "Alabama",
    "Indiana",
]
_DEBITS = [
    ("ADP PAYROLL FEES ADP - FEES", "ach"),
    ("AMEX EPAYMENT ACH PMT", "ach"),
    ("ONLINE TRANSFER TO SAV ...4821", "transfer"),
    ("CHECK", "check"),
    ("COMCAST BUSINESS RECURRING", "ach"),
    ("WIRE TRANSFER OUT", "wire"),
    ("MONTHLY SERVICE FEE", "fee"),
    ("REGUS MANAGEMENT RENT", "ach"),
]


def company_names(count: int, rng: random.Random) -> list[str]:
    """Distinct plausible company names ("Acme Pacific Logistics", "Hooli Labs of Ohio")."""
    names: set[str] = set()
    while len(names) < count:
        name = " ".join(
            part
            for part in (rng.choice(_PREFIXES), rng.choice(_MIDDLES), rng.choice(_SUFFIXES))
            if part
        )
        if len(names) > count // 2 and len(names) > 4000:
            name += f" of {rng.choice(_STATES)}"
        names.add(name)
    return sorted(names)


def invoice_spelling(number: int, rng: random.Random) -> str:
    """An invoice number as a payer might write it."""
    return rng.choice(
        [
            f"INV-{number}",
            f"Inv {number}",
            f"invoice#{number:07d}",
            f"INV{number}",
            f"Invoice {number}",
            f"inv.{number}",
            f"#{number}",
            f"INV-{number:06d}",
        ]
    )


def _reference(rng: random.Random, invoices: Sequence[int]) -> str:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(["PAYMENT", "AP PAYMNT", "REMITTANCE", "THANK YOU"])
    if roll < 0.20 and len(invoices) > 1:
        picked = rng.sample(list(invoices), k=min(len(invoices), rng.randint(2, 3)))
        return " ".join(invoice_spelling(number, rng) for number in picked)
    return invoice_spelling(rng.choice(invoices), rng)


def _description(payer: str, reference: str, method: str, rng: random.Random) -> str:
    if method == "ach":
        return (
            f"ORIG CO NAME:{payer.upper()} ORIG ID:{rng.randint(10**9, 10**10 - 1)} "
            f"DESC DATE:{rng.randint(240101, 241231)} CO ENTRY DESCR:PAYMENT SEC:CCD IND ID:{reference}"
        )
    if method == "wire":
        return (
            f"FEDWIRE CREDIT VIA: WELLS FARGO BANK/121000248 B/O: {payer.upper()} REF: {reference}"
        )
    return f"REMOTE ONLINE DEPOSIT {payer} {reference}"


def generate_csv(
    rows: int,
    *,
    seed: int = 7,
    style: str = "us",
    debit_share: float = 0.15,
    with_ids: bool = True,
    payers: Sequence[str] | None = None,
    invoice_numbers: Sequence[int] | None = None,
    start: date = date(2024, 1, 2),
) -> bytes:
    """The bytes of a CSV export with ``rows`` transaction lines (plus a header line)."""
    rng = random.Random(seed)
    payers = list(payers or company_names(max(50, rows // 20), rng))
    invoices = list(invoice_numbers or range(1000, 1000 + max(100, rows)))
    eu = style == "eu"
    delimiter = ";" if eu else ","
    header = (
        [
            "Booking date",
            "Amount",
            "Currency",
            "Counterparty name",
            "Remittance information",
            "Transaction ID",
        ]
        if eu
        else ["Posting Date", "Description", "Amount", "Payee", "Reference", "Transaction ID"]
    )
    if not with_ids:
        header = header[:-1]
    lines = [delimiter.join(header)]
    day = start
    for index in range(rows):
        if rng.random() < 0.02:
            day += timedelta(days=1 if day.weekday() < 4 else 3)
        debit = rng.random() < debit_share
        cents = rng.randint(1_500, 5_000_000) if not debit else -rng.randint(500, 2_000_000)
        amount = Decimal(cents).scaleb(-2)
        if debit:
            description, method = rng.choice(_DEBITS)
            payer, reference = "", description
        else:
            payer = rng.choice(payers)
            reference = _reference(rng, rng.sample(invoices, k=3))
            method = rng.choice(["ach", "ach", "ach", "wire", "check"])
            description = _description(payer, reference, method, rng)
        tx_id = f"{day:%Y%m%d}{index:08d}"
        if eu:
            text_amount = f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
            cells = [f"{day:%d.%m.%Y}", text_amount, "EUR", payer, reference, tx_id]
        else:
            text_amount = f"{amount:,.2f}"
            cells = [f"{day:%m/%d/%Y}", description, text_amount, payer, reference, tx_id]
        if not with_ids:
            cells = cells[:-1]
        lines.append(delimiter.join(_quote(cell, delimiter) for cell in cells))
    return ("\r\n".join(lines) + "\r\n").encode()


def _quote(cell: str, delimiter: str) -> str:
    if delimiter in cell or '"' in cell or "," in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("output", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--style", choices=["us", "eu"], default="us")
    parser.add_argument("--debit-share", type=float, default=0.15)
    parser.add_argument("--no-ids", action="store_true", help="leave out the transaction id column")
    parser.add_argument("--parse", action="store_true", help="also time parsing the file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = generate_csv(
        args.rows,
        seed=args.seed,
        style=args.style,
        debit_share=args.debit_share,
        with_ids=not args.no_ids,
    )
    args.output.write_bytes(data)
    print(
        f"wrote {args.rows} lines ({len(data) / 1e6:.1f} MB) to {args.output} "
        f"in {time.perf_counter() - started:.2f} s"
    )
    if args.parse:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from payments.importers import detect_format, fingerprints, parse

        wall, cpu = time.perf_counter(), time.process_time()
        fmt = detect_format(data)
        result = parse(data, fmt=fmt)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"parsed as {fmt}: {len(result.transactions)} credits, {result.debits_skipped} debits "
            f"skipped, {len(result.rejected)} rejected in {wall:.2f} s wall, {cpu:.2f} s CPU "
            f"({args.rows / wall:,.0f} lines/s)"
        )
        cpu = time.process_time()
        fingerprints(result.transactions)
        print(
            f"fingerprints of {len(result.transactions)} credits: {time.process_time() - cpu:.2f} s CPU"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
