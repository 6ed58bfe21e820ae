"""The benchmark harness and the dataset generator's pure parts: percentiles, interleaving, ratios, the report,
and the generated project story (deterministic, canonical links, gap-free keys, time-ordered history)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from pathlib import Path

import anyio
import pytest

from atoms_bench.datagen import DatasetSpec, story_rows
from atoms_bench.harness import Figure, Samples, interleave, percentile
from atoms_bench.report import write_chart, write_markdown


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 95) == 7.0


def test_interleave_runs_every_variant_once_per_round_in_varying_order() -> None:
    calls: list[str] = []

    async def async_variant() -> None:
        calls.append("b")

    samples = anyio.run(
        lambda: interleave({"a": lambda: calls.append("a"), "b": async_variant}, iterations=40, warmup=2)
    )
    assert [s.n for s in samples.values()] == [40, 40]
    assert Counter(calls) == {"a": 42, "b": 42}
    rounds = [tuple(calls[i : i + 2]) for i in range(4, len(calls), 2)]
    assert set(rounds) == {("a", "b"), ("b", "a")}


def test_figure_ratio_and_goal_use_p50() -> None:
    fig = Figure(
        "rls", "get_item", {"on": Samples("on", [0.002] * 5), "off": Samples("off", [0.001] * 5)}, "on", "off", 1.3
    )
    assert fig.ratio_p50 == pytest.approx(2.0)
    assert fig.met is False
    assert Figure("x", "y", {"a": Samples("a", [1.0])}).met is None


def test_report_and_chart_are_written_from_figures(tmp_path: Path) -> None:
    rng = random.Random(1)
    fig = Figure(
        "server",
        "in-memory vs direct",
        {"in_memory": Samples("in_memory", [rng.uniform(0.004, 0.006) for _ in range(50)]),
         "direct_rpc": Samples("direct_rpc", [rng.uniform(0.002, 0.003) for _ in range(50)])},
        "in_memory", "direct_rpc", 1.5, "<= 1.5x",
    )  # fmt: skip
    scaling = {"list_items": {10_000: 3.0, 100_000: 3.1, 1_000_000: 3.2}}
    md, png = tmp_path / "BENCHMARKS.md", tmp_path / "chart.png"
    write_markdown(
        md, mode="smoke", env={"machine": "test"}, dataset={"items": "10"}, figures=[fig], metrics={},
        scaling=scaling, plans=[], profiles=None, chart="chart.png", findings=None,
    )  # fmt: skip
    write_chart(png, [fig], scaling)
    text = md.read_text()
    assert "| server | in-memory vs direct |" in text and "**missed**" in text
    assert "| list_items | 3.000 | 3.100 | 3.200 | 1.07x |" in text
    assert png.read_bytes().startswith(b"\x89PNG")


def _story(seed: int) -> dict[str, list[tuple[object, ...]]]:
    return story_rows(DatasetSpec(items=600, orgs=2, projects_per_org=3, seed=seed))


def test_the_generator_is_deterministic_for_a_seed() -> None:
    assert _story(5) == _story(5)
    assert _story(5)["items"] != _story(6)["items"]


def test_generated_links_are_canonical_and_keys_gap_free() -> None:
    rows = _story(3)
    items = {r[0]: r for r in rows["items"]}
    assert len(items) == 600
    for _lid, _org, project, kind, source, target, *_ in rows["links"]:
        assert source != target
        assert items[source][2] == project and items[target][2] == project
        if kind == "verification":
            assert (items[source][4], items[target][4]) == ("test-case", "requirement")
        if kind == "related":
            assert uuid.UUID(str(source)) < uuid.UUID(str(target))
    kinds = Counter(r[3] for r in rows["links"])
    assert kinds["hierarchy"] and kinds["verification"] and kinds["related"]
    # Keys: per (project, type), 1..n with no gap, matching private.item_key_counters.
    numbers: dict[tuple[object, str], list[int]] = {}
    for r in rows["items"]:
        numbers.setdefault((r[2], r[4]), []).append(int(str(r[3]).split("-")[1]))
    for (project, item_type), found in numbers.items():
        assert sorted(found) == list(range(1, len(found) + 1))
        assert (project, item_type, len(found)) in rows["counters"]


def test_generated_hierarchies_are_several_levels_deep_and_history_is_time_ordered() -> None:
    rows = _story(4)
    parent = {r[5]: r[4] for r in rows["links"] if r[3] == "hierarchy"}

    def depth(node: object) -> int:
        d = 0
        while node in parent:
            node, d = parent[node], d + 1
        return d

    assert max(depth(n) for n in parent) >= 3
    by_project: dict[object, list[tuple[object, ...]]] = {}
    for h in rows["history"]:
        by_project.setdefault(h[1], []).append(h)
    for events in by_project.values():
        assert [e[12] for e in events] == list(range(1, len(events) + 1))  # chain_seq gap-free
        assert [e[5] for e in events] == sorted(e[5] for e in events)  # changed_at follows chain order
