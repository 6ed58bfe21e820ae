"""Timing core: variants measured interleaved in one run (shuffled order each round), p50/p95 and ratios.

Measuring the compared variants in the same rounds, in a fresh random order each round, spreads drift (cache
warm-up, autovacuum, other processes on the machine) evenly over them, so their ratio is fair even when the
absolute numbers wander. Benchmarks measure; they never fail on time.
"""

from __future__ import annotations

import inspect
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["Figure", "Samples", "interleave", "percentile"]

Variant = Callable[[], object] | Callable[[], Awaitable[object]]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(slots=True)
class Samples:
    """Wall-clock durations (seconds) of one variant."""

    name: str
    seconds: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return percentile(self.seconds, 50) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.seconds, 95) * 1000

    @property
    def n(self) -> int:
        return len(self.seconds)


@dataclass(slots=True)
class Figure:
    """One reported comparison: variants, the ratio of two of them, the goal and whether it is met."""

    scenario: str
    label: str
    samples: dict[str, Samples]
    numerator: str | None = None
    denominator: str | None = None
    goal: float | None = None
    goal_text: str = ""
    note: str = ""

    @property
    def ratio_p50(self) -> float | None:
        if not (self.numerator and self.denominator):
            return None
        return self.samples[self.numerator].p50_ms / self.samples[self.denominator].p50_ms

    @property
    def ratio_p95(self) -> float | None:
        if not (self.numerator and self.denominator):
            return None
        return self.samples[self.numerator].p95_ms / self.samples[self.denominator].p95_ms

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.ratio_p50 is None:
            return None
        return self.ratio_p50 <= self.goal

    def as_dict(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "label": self.label,
            "variants": {k: {"n": s.n, "p50_ms": s.p50_ms, "p95_ms": s.p95_ms} for k, s in self.samples.items()},
            "ratio_p50": self.ratio_p50,
            "ratio_p95": self.ratio_p95,
            "goal": self.goal,
            "goal_text": self.goal_text,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "met": self.met,
            "note": self.note,
        }


async def interleave(
    variants: Mapping[str, Variant], *, iterations: int, warmup: int = 3, seed: int = 0
) -> dict[str, Samples]:
    """Run every variant ``warmup`` times, then ``iterations`` rounds, each variant once per round in a random order.

    Variants are plain or async callables; only one runs at a time.
    """
    rng = random.Random(seed)
    names = list(variants)
    samples = {name: Samples(name) for name in names}

    async def once(fn: Variant) -> float:
        t0 = time.perf_counter()
        result = fn()
        if inspect.isawaitable(result):
            await result
        return time.perf_counter() - t0

    for _ in range(warmup):
        for name in names:
            await once(variants[name])
    for _ in range(iterations):
        rng.shuffle(names)
        for name in names:
            samples[name].seconds.append(await once(variants[name]))
    return samples
