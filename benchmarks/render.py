"""Render benchmarks/results/*.json into the results section of benchmarks/README.md.

    .venv/bin/python benchmarks/render.py

Everything between the ``<!-- results:start -->`` and ``<!-- results:end -->`` markers is
rewritten; the rest of the README is left as it is.
"""

from __future__ import annotations

import json
from typing import Any

from harness import RESULTS, ROOT

README = ROOT / "benchmarks" / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
PEERS = ("flower", "nvflare")
NAMES = {"cohort": "Cohort", "flower": "Flower", "nvflare": "NVIDIA FLARE"}


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _when(data: dict[str, Any]) -> str:
    m = data["machine"]
    load = ", ".join(str(x) for x in m["load_average"])
    busy = (
        " Taken under load (the load average is above the core count: other work was running),"
        " so the timings are noisy."
        if max(m["load_average"]) > m["cpus"]
        else ""
    )
    return (
        f"_{m['date']}, {m['cpus']} cores, {m['memory_gib']} GiB, Python {m['python']}; "
        f"load average at the end {load}.{busy}_"
    )


def _cell(row: dict[str, Any] | None, key: str, fmt: str) -> str:
    if row is None:
        return "not run"
    if row.get(key) is None:
        return "failed" if row.get("errors") else "-"
    return format(row[key], fmt)


def _failures(rows: list[dict[str, Any]]) -> list[str]:
    """What failed in the run, one line per failure."""
    lines = [
        f"- {NAMES[r['platform']]} {r['mode']} {r['sites']} sites: {e}"
        for r in rows
        for e in r.get("errors", [])
    ]
    return ["", "Failures in this run:", "", *lines] if lines else []


def overhead(data: dict[str, Any]) -> list[str]:
    """The round-overhead table: one line per mode and site count."""
    out = [
        f"### 1. Round overhead ({data['params']:,} float32 parameters, "
        f"{data['rounds']} rounds, median of {data['repeat']} run(s))",
        "",
        _when(data),
        "",
        "| mode | sites | Cohort s/round | Flower s/round | NVIDIA FLARE s/round "
        "| Cohort / best peer | Cohort peak MB | Flower peak MB | NVIDIA FLARE peak MB "
        "| Cohort / best peer (memory) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted(
        {(r["mode"], r["sites"]) for r in data["rows"]}, key=lambda k: (k[0] != "sim", k[1])
    )
    for mode, sites in keys:
        by = {r["platform"]: r for r in data["rows"] if (r["mode"], r["sites"]) == (mode, sites)}
        c = by.get("cohort")
        cells = [
            "simulation" if mode == "sim" else "POC (loopback)",
            str(sites),
            *(_cell(by.get(p), "round_s", ".3f") for p in ("cohort", *PEERS)),
            _cell(c, "round_s_vs_best_peer", ".2f"),
            *(_cell(by.get(p), "peak_mb", ".0f") for p in ("cohort", *PEERS)),
            _cell(c, "peak_mb_vs_best_peer", ".2f"),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out + _failures(data["rows"])


def parity(data: dict[str, Any]) -> list[str]:
    """The parity line(s)."""
    out = ["### 6. Parity with Flower", "", _when(data), ""]
    for row in data["rows"]:
        if "error" in row:
            out.append(f"- {NAMES[row['platform']]} failed: {row['error']}")
        else:
            verdict = "holds" if row["holds_to_1e-6"] else "does NOT hold"
            out.append(
                f"- {row['sites']} sites, {row['rounds']} rounds of FedAvg: max absolute "
                f"difference of the global models {row['max_abs_diff']:.3g} (largest weight "
                f"{row['max_abs_weight']:.3g}); parity to 1e-6 {verdict}."
            )
    return out


def aggregation(data: dict[str, Any]) -> list[str]:
    """The aggregation table."""
    out = [
        f"### 4. Aggregation ({data['updates']} updates of {data['params']:,} float32 parameters)",
        "",
        _when(data),
        "",
        "| what | seconds | GB/s of update bytes | fraction of the bound |",
        "|---|---|---|---|",
    ]
    for r in data["rows"]:
        out.append(
            f"| {r['what']} | {r['seconds']:.3f} | {r['gb_per_s']:.2f} "
            f"| {r['fraction_of_bound']:.2f} |"
        )
    return out


def scale(data: dict[str, Any]) -> list[str]:
    """The simulation-scale table."""
    out = [
        f"### 2. Simulation scale ({data['params']:,} float32 parameters, {data['rounds']} "
        f"rounds, one run each, {data['timeout_s']:.0f} s allowed)",
        "",
        _when(data),
        "",
        "| sites | platform | wall s | s/round (rounds 2-3) | peak MB | Cohort / best peer "
        "(wall, memory) |",
        "|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        ratio = ""
        if r["platform"] == "cohort":
            ratio = ", ".join(_cell(r, f"{k}_vs_best_peer", ".2f") for k in ("wall_s", "peak_mb"))
        out.append(
            f"| {r['sites']} | {NAMES[r['platform']]} | {_cell(r, 'wall_s', '.1f')} "
            f"| {_cell(r, 'round_s', '.3f')} | {_cell(r, 'peak_mb', '.0f')} | {ratio} |"
        )
    return out + _failures(data["rows"])


def large_model(data: dict[str, Any]) -> list[str]:
    """The large-model line(s)."""
    out = ["### 3. Large model on loopback (Cohort POC, mutual TLS)", "", _when(data), ""]
    for r in data["rows"]:
        if "error" in r:
            out.append(f"- {r['model_mb']} MB model: failed: {r['error']}")
            continue
        out.append(
            f"- {r['model_mb']} MB model, {r['sites']} sites: round 2 took {r['round_s']} s, "
            f"moving {r['mb_per_s']} MB/s (model to every site and back) against a plain "
            f"socket's {r['loopback_limit_mb_per_s']} MB/s: {r['fraction_of_limit']:.2f} of the "
            f"loopback limit (target 0.5). Server peak memory {r['server_peak_mb']:.0f} MB, "
            f"{r['server_peak_over_model']}x the model (target under 3x); all processes "
            f"{r['total_peak_mb']:.0f} MB."
            + (
                f" Tail of a round (last update in -> global model recorded): {r['tail_s']} s."
                if r.get("tail_s") is not None
                else ""
            )
        )
    return out


def admin(data: dict[str, Any]) -> list[str]:
    """The admin table."""
    seeded = data["rows"][0]["seeded_jobs"] if data["rows"] else 0
    out = [
        f"### 5. Admin (Cohort POC, mutual TLS, {seeded:,} jobs in the store)",
        "",
        _when(data),
        "",
        "| what | median s | p99 s | requests/s |",
        "|---|---|---|---|",
    ]
    for r in data["rows"]:
        p99 = f"{r['p99_s']:.3f}" if "p99_s" in r else ""
        rps = f"{r['requests_per_s']}" if "requests_per_s" in r else ""
        out.append(f"| {r['what']} | {r['median_s']:.3f} | {p99} | {rps} |")
    return out


def targets() -> list[str]:
    """The issue's targets, each met or missed by how much, from the results on file."""
    out = ["### Targets", ""]
    over = _load("overhead")
    for r in over["rows"] if over else []:
        ratio = r.get("round_s_vs_best_peer")
        if r["platform"] == "cohort" and ratio is not None:
            where = "simulation" if r["mode"] == "sim" else "POC"
            verdict = f"{'met' if ratio < 1 else 'missed'} ({ratio:.2f}x the best peer)"
            out.append(
                f"- Round overhead below both peers, {where}, {r['sites']} sites: {verdict}."
            )
    large = _load("large_model")
    for r in large["rows"] if large else []:
        if "error" not in r:
            frac, mem = r["fraction_of_limit"], r["server_peak_over_model"]
            out.append(
                f"- Large model at least half the loopback limit: "
                f"{'met' if frac >= 0.5 else 'missed'} ({frac:.2f} of it, {r['model_mb']} MB)."
            )
            out.append(
                f"- Server memory under 3x the model: {'met' if mem < 3 else 'missed'} "
                f"({mem:.1f}x)."
            )
    agg = _load("aggregation")
    for r in agg["rows"][1:2] if agg else []:  # the fold FedAvg uses (the rows after: history)
        frac = r["fraction_of_bound"]
        out.append(
            f"- Aggregation at least half the memory-bandwidth bound ({r['what']}): "
            f"{'met' if frac >= 0.5 else 'missed'} ({frac:.2f} of it)."
        )
    par = _load("parity")
    for r in par["rows"] if par else []:
        if "max_abs_diff" in r:
            diff = r["max_abs_diff"]
            out.append(
                f"- Parity with Flower to 1e-6: {'met' if diff <= 1e-6 else 'missed'} ({diff:.2g})."
            )
    return out if len(out) > 2 else []


def render() -> str:
    """The whole results section."""
    parts: list[str] = [
        "Numbers below were written by `make bench` (or `benchmarks/bench.py`); ratios are "
        "Cohort's value divided by the best peer's in the same run (below 1: Cohort leads).",
    ]
    sections = (
        ("overhead", overhead),
        ("scale", scale),
        ("large_model", large_model),
        ("aggregation", aggregation),
        ("parity", parity),
        ("admin", admin),
    )
    goals = targets()
    if goals:
        parts += ["", *goals]
    for name, fn in sections:
        data = _load(name)
        if data:
            parts += ["", *fn(data)]
    return "\n".join(parts)


def main() -> None:
    """Rewrite the README's results section."""
    text = README.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{README} lacks the {START} / {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{render()}\n{END}{tail}")


if __name__ == "__main__":
    main()
