"""Scale of the matching engine alone (no database): index build + suggest + decide for all.

    .venv/bin/python -m bench.matching_scale [--payments 100000] [--invoices 100000] [--customers 20000]

Runs the given size, then both doubled, and prints the seconds and the ratio. The data comes
from the accuracy benchmark's generator (``bench.book.matching_book``) (noisy payer names, varied references, partial
payments, several invoices per payment, payments for no invoice). Targets: engine only
≤ 15 s at 100k (headroom for the database part of the 30 s budget), doubling ≤ 2.3x.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

from bench.book import SHORT_PAY_ABSOLUTE, SHORT_PAY_RATIO, TODAY, matching_book
from payments.matching import MatchIndex, decide
from payments.matching.parallel import suggest_all

TARGET_SECONDS = 15.0
TARGET_RATIO = 2.3


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the forked workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def run(
    *, customers: int, invoices: int, payments: int, seed: int, workers: int
) -> tuple[float, float, float, int]:
    """Wall seconds to build the index and to match every payment, CPU seconds of both,
    and how many payments were auto-applied."""
    dataset = matching_book(
        seed=seed, customers=customers, invoices=invoices, payments=payments, labels=False
    )
    inputs = [case.payment for case in dataset.cases]
    gc.collect()
    gc.freeze()  # the generated data is long-lived: keep the collector off it, as a worker would
    cpu = _cpu_seconds()
    started = time.perf_counter()
    index = MatchIndex.build(
        dataset.invoices,
        dataset.history,
        short_pay_absolute=SHORT_PAY_ABSOLUTE,
        short_pay_ratio=SHORT_PAY_RATIO,
    )
    built = time.perf_counter()
    applied = 0
    all_suggestions = suggest_all(index, inputs, workers=workers)
    for case, suggestions in zip(dataset.cases, all_suggestions, strict=True):
        decision = decide(
            case.payment, suggestions, today=TODAY, previously_unapplied=case.previously_unapplied
        )
        applied += decision.apply
    finished = time.perf_counter()
    cpu = _cpu_seconds() - cpu
    gc.unfreeze()
    return built - started, finished - built, cpu, applied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for suggest (1: no fork)",
    )
    parser.add_argument("--no-fail", action="store_true", help="print the figures, never exit 1")
    args = parser.parse_args(argv)

    totals = []
    for factor in (1, 2):
        size = dict(
            customers=args.customers * factor,
            invoices=args.invoices * factor,
            payments=args.payments * factor,
        )
        build, match, cpu, applied = run(**size, seed=args.seed, workers=args.workers)
        total = build + match
        totals.append(total)
        print(
            f"{size['payments']:>7} payments vs {size['invoices']:>7} open invoices of {size['customers']:>6} customers: "
            f"build {build:5.2f} s + suggest/decide {match:6.2f} s = {total:6.2f} s "
            f"({match / size['payments'] * 1e6:.0f} µs/payment, {applied} auto-applied); "
            f"CPU {cpu:.2f} s; load average {os.getloadavg()[0]:.1f}"
        )
    print(f"workers: {args.workers}")
    ratio = totals[1] / totals[0]
    print(
        f"doubling ratio: {ratio:.2f} (target ≤ {TARGET_RATIO}); engine at base size {totals[0]:.2f} s (target ≤ {TARGET_SECONDS:.0f} s)"
    )
    if (totals[0] > TARGET_SECONDS or ratio > TARGET_RATIO) and not args.no_fail:
        print("FAILED: a target was missed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
