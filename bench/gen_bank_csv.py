"""Write a realistic N-line CSV bank export (for the payment-import benchmark).

    .venv/bin/python -m bench.gen_bank_csv 100000 /tmp/bank_100k.csv [--seed 7] [--style us|eu]
        [--debit-share 0.15] [--no-ids] [--parse]

The file looks like a business checking export: mostly incoming customer payments (ACH,
wires, check deposits) whose references spell invoice numbers in the ways payers do
("INV-1042", "Inv 1043", "invoice#0001044", several invoices, none at all), plus outgoing
debits the import must skip. The generator is ``bench.book.generate_csv`` (re-exported here):
benchmarks that need the bytes in memory, or their own payer names and invoice numbers, call it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from bench.book import generate_csv

__all__ = ["generate_csv", "main"]


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
