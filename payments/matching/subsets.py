"""Bounded subset sums over one customer's open invoices (all amounts in whole cents)."""

from __future__ import annotations

from collections.abc import Sequence


def consecutive_runs(
    amounts: Sequence[int], target: int, *, max_length: int = 12
) -> list[tuple[int, ...]]:
    """Runs of 2..max_length adjacent positions (invoices sorted by date) summing to target."""
    runs: list[tuple[int, ...]] = []
    start = 0
    total = 0
    for end, amount in enumerate(amounts):
        total += amount
        while total > target or end - start + 1 > max_length:
            total -= amounts[start]
            start += 1
        if total == target and end > start:
            runs.append(tuple(range(start, end + 1)))
    return runs


def pair_sums(amounts: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
    """Sum → position pairs (i < j) for every pair."""
    sums: dict[int, list[tuple[int, int]]] = {}
    n = len(amounts)
    for i in range(n):
        a = amounts[i]
        for j in range(i + 1, n):
            sums.setdefault(a + amounts[j], []).append((i, j))
    return sums


def small_subsets(
    amounts: Sequence[int],
    target: int,
    *,
    sums: dict[int, list[tuple[int, int]]] | None = None,
    ascending: Sequence[int] | None = None,
    max_size: int = 4,
    max_results: int = 10,
) -> list[tuple[int, ...]]:
    """Position sets of size 2..max_size (max 4) summing to target, smallest sets first."""
    if target <= 0 or len(amounts) < 2:
        return []
    if ascending is None:
        ascending = sorted(amounts)
    if target < ascending[0] + ascending[1]:
        return []
    if sums is None:
        sums = pair_sums(amounts)
    found: list[tuple[int, ...]] = []
    for pair in sums.get(target, ()):
        found.append(pair)
        if len(found) >= max_results:
            return found
    if max_size >= 3 and len(amounts) >= 3 and sum(ascending[:3]) <= target <= sum(ascending[-3:]):
        for k, a in enumerate(amounts):
            for i, j in sums.get(target - a, ()):
                if j < k:
                    found.append((i, j, k))
                    if len(found) >= max_results:
                        return found
    if max_size >= 4 and len(amounts) >= 4 and sum(ascending[:4]) <= target <= sum(ascending[-4:]):
        for total, pairs in sums.items():
            rest = sums.get(target - total)
            if not rest:
                continue
            for i, j in pairs:
                for k, m in rest:
                    if j < k:
                        found.append((i, j, k, m))
                        if len(found) >= max_results:
                            return found
    return found
