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


# A pair of positions (i < j < 256) is packed as i << 8 | j, never 0 (j ≥ 1); the pairs of
# one sum as base-65536 digits of one int, the first pair lowest. A customer's pair sums are
# kept for the run (``_Customer.pool_pair_sums``): as ints they take a third of the memory
# that lists of tuples took (a 1M-invoice book: 195 MB against 595 MB a ranking worker) and
# build in half the time.
PAIR_BITS = 16
_POSITION_BITS = PAIR_BITS // 2
_PAIR_MASK = (1 << PAIR_BITS) - 1
_POSITION_MASK = (1 << _POSITION_BITS) - 1
MAX_POSITIONS = 1 << _POSITION_BITS


def pair_sums(amounts: Sequence[int]) -> dict[int, int]:
    """Sum → every position pair (i < j) adding up to it, packed (``pairs_in`` reads them
    back in the order i, then j). At most ``MAX_POSITIONS`` amounts."""
    n = len(amounts)
    if n > MAX_POSITIONS:
        raise ValueError(f"pair sums of at most {MAX_POSITIONS} amounts, not {n}")
    sums: dict[int, int] = {}
    for i in range(n):
        a = amounts[i]
        high = i << _POSITION_BITS
        for j in range(i + 1, n):
            total = a + amounts[j]
            packed = sums.get(total, 0)
            if packed:
                # Above the pairs already there: its digit index is their count.
                sums[total] = packed | (high | j) << (PAIR_BITS * _digits(packed))
            else:
                sums[total] = high | j
    return sums


def _digits(packed: int) -> int:
    return (packed.bit_length() + PAIR_BITS - 1) // PAIR_BITS


def pairs_in(packed: int) -> list[tuple[int, int]]:
    """The position pairs of one packed sum (0: none), first packed first."""
    pairs: list[tuple[int, int]] = []
    while packed:
        pair = packed & _PAIR_MASK
        pairs.append((pair >> _POSITION_BITS, pair & _POSITION_MASK))
        packed >>= PAIR_BITS
    return pairs


def small_subsets(
    amounts: Sequence[int],
    target: int,
    *,
    sums: dict[int, int] | None = None,
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
    for pair in pairs_in(sums.get(target, 0)):
        found.append(pair)
        if len(found) >= max_results:
            return found
    if max_size >= 3 and len(amounts) >= 3 and sum(ascending[:3]) <= target <= sum(ascending[-3:]):
        for k, a in enumerate(amounts):
            for i, j in pairs_in(sums.get(target - a, 0)):
                if j < k:
                    found.append((i, j, k))
                    if len(found) >= max_results:
                        return found
    if max_size >= 4 and len(amounts) >= 4 and sum(ascending[:4]) <= target <= sum(ascending[-4:]):
        for total, pairs in sums.items():
            packed_rest = sums.get(target - total, 0)
            if not packed_rest:
                continue
            rest = pairs_in(packed_rest)  # read once, not once per pair of the outer loop
            for i, j in pairs_in(pairs):
                for k, m in rest:
                    if j < k:
                        found.append((i, j, k, m))
                        if len(found) >= max_results:
                            return found
    return found
