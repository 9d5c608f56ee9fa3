"""The report: a table on the terminal, results.json, results.csv, runs.csv and chart.png."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import importlib
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .contenders import CONTENDERS
from .harness import BenchResults, SummaryRow
from .protocol import MiB
from .servers import Target, mask
from .worker import library_versions

_Column = tuple[str, str, int]  # (header, SummaryRow attribute or computed name, width)

_LEAD: tuple[_Column, ...] = (
    ("profile", "profile", 8),
    ("contender", "contender", 18),
    ("status", "status", 8),
    ("ok/runs", "runs", 7),
)
_LARGE: tuple[_Column, ...] = (
    ("MiB/s", "mib_s", 7),
    ("wall s", "wall_s", 7),
    ("CPU s/GiB", "cpu_s_per_gib", 9),
    ("server CPU s/GiB", "server_cpu_s_per_gib", 16),
)
_SMALL: tuple[_Column, ...] = (
    ("files/s", "files_s", 7),
    ("MiB/s", "mib_s", 6),
    ("wall s", "wall_s", 6),
    ("CPU s/1k files", "cpu_s_per_1000_files", 14),
    ("CPU s/GiB", "cpu_s_per_gib", 9),
    ("server CPU s/1k files", "server_cpu_s_per_1000_files", 21),
)
_TAIL: tuple[_Column, ...] = (
    ("peak RSS MiB", "peak_rss_mib", 12),
    ("landed", "landed", 11),
    ("verified", "verified", 10),
    ("retries", "retries", 7),
    ("faults", "faults", 6),
    ("MPU left", "multipart_uploads_left", 8),
)


def _number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or (float(value).is_integer() and digits == 0):
        return f"{int(value)}"
    return f"{value:.{digits}f}"


def _size(n: int) -> str:
    if n >= 1024 * MiB:
        return f"{n / (1024 * MiB):.2f} GiB"
    if n >= MiB:
        return f"{n / MiB:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} B"


def _cell(row: SummaryRow, name: str) -> str:
    if name == "runs":
        return f"{row.survived}/{row.runs}" if row.runs else "-"
    if name == "landed":
        return f"{row.files_landed}/{row.files_attempted}" if row.runs else "-"
    if name == "verified":
        return _size(row.bytes_verified) if row.runs else "-"
    if name in ("retries", "faults", "multipart_uploads_left"):
        return _number(getattr(row, name), 0)
    if name in ("files_s",):
        return _number(row.files_s, 0)
    if "cpu_s_per" in name:
        return _number(getattr(row, name), 2)
    if name in ("wall_s",):
        return _number(row.wall_s, 2)
    value = getattr(row, name)
    return value if isinstance(value, str) else _number(value)


def _render(columns: Sequence[_Column], rows: Sequence[SummaryRow]) -> list[str]:
    lead = len(_LEAD)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < lead else c.rjust(w)
            for i, (c, (_, _, w)) in enumerate(zip(cells, columns, strict=True))
        ).rstrip()

    header = line([h for h, _, _ in columns])
    out = [header, "-" * len(header)]
    previous = None
    for row in rows:
        cells = [_cell(row, name) for _, name, _ in columns]
        if row.profile == previous:
            cells[0] = ""
        previous = row.profile
        out.append(line(cells))
    return out


def table(results: BenchResults, rows: Sequence[SummaryRow]) -> str:
    """The terminal tables (one per workload, rows grouped by profile), with the signing
    modes and notes below them."""
    config, data = results.config, results.data
    lines: list[str] = []
    for workload in config.workloads:
        chosen = sorted(
            (r for r in rows if r.workload == workload),
            key=lambda r: (config.profiles.index(r.profile), config.contenders.index(r.contender)),
        )
        if workload == "large" and data.large is not None:
            title = f"large: one file of {_size(data.large.size)}"
        elif data.small:
            count = len(data.small)
            title = f"small: {count} file{'s' if count != 1 else ''} of {_size(data.small[0].size)}"
        else:
            title = workload
        columns = (*_LEAD, *(_LARGE if workload == "large" else _SMALL), *_TAIL)
        lines += [title, *_render(columns, chosen), ""]
    lines.append(
        f"Medians over the runs that survived (every object landed byte-exact); repeat "
        f"{config.repeat}; server: {results.target.kind} {results.target.version}".rstrip()
        + (f" over https ({_trusted_ca(results.target)})" if results.target.tls else "")
    )
    lines.append(
        "retries: as the contender reports them (-: not exposed); faults: injected by the "
        "proxy (-: no proxy); MPU left: multipart uploads left open after the run; server "
        "CPU: the server process while the contender ran (-: a server the bench did not start)"
    )
    lines.append("")
    https = results.target.tls
    lines.append(f"Payload signing over {'https' if https else 'plain http'}:")
    for name in config.contenders:
        contender = CONTENDERS[name]
        lines.append(f"  {name:<18}  {contender.signing_https if https else contender.signing}")
    notes = list(results.notes)
    for row in rows:
        if row.status in ("failed", "partial", "timeout") and row.note:
            notes.append(f"{row.contender} {row.workload}/{row.profile}: {row.note}")
    run_notes = list(dict.fromkeys(n for r in results.runs for n in r.notes))
    if notes or run_notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  - {n}" for n in [*notes, *run_notes])
    return "\n".join(lines)


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat()


def as_json(results: BenchResults, rows: Sequence[SummaryRow]) -> dict[str, Any]:
    """Everything worth keeping; keys are masked, secret keys never written."""
    config, target, data = results.config, results.target, results.data
    own_versions = library_versions()  # for contenders run by this interpreter
    return {
        "tool": "resilient-s3 bench",
        "started": _iso(results.started),
        "finished": _iso(results.finished),
        "interrupted": results.interrupted,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "server": {
            "kind": target.kind,
            "version": target.version,
            "endpoint_url": target.endpoint_url,
            "region": target.region,
            "access_key": mask(target.access_key),
            "tls": target.tls,
            "trusted_ca": _trusted_ca(target),
        },
        "settings": {
            "contenders": list(config.contenders),
            "workloads": list(config.workloads),
            "profiles": list(config.profiles),
            "repeat": config.repeat,
            "timeout_s": config.timeout,
            "verify_full_get": config.verify,
            "none_via_proxy": config.via_proxy,
            "seed": config.seed,
            "large_size": data.large.size if data.large else None,
            "small_count": len(data.small),
            "small_size": data.small[0].size if data.small else None,
        },
        "profiles": {p: config.describe_profile(p) for p in config.profiles},
        "contenders": {
            name: {
                "description": CONTENDERS[name].description,
                "signing": CONTENDERS[name].signing,
                "signing_https": CONTENDERS[name].signing_https,
                "retries": CONTENDERS[name].retries,
                "versions": results.versions.get(name) or own_versions,
            }
            for name in config.contenders
        },
        "notes": results.notes,
        "summary": [dataclasses.asdict(r) for r in rows],
        "runs": [{**dataclasses.asdict(r), "faults_total": r.faults_total} for r in results.runs],
    }


def _trusted_ca(target: Target) -> str | None:
    if not target.tls:
        return None
    if target.ca_bundle is None:
        return "the system's CAs"
    if target.kind == "seaweedfs":
        return "a throwaway CA made for this run with trustme, given to every contender"
    return f"{target.ca_bundle}, given to every contender"


def _csv(path: Path, records: Sequence[dict[str, Any]]) -> None:
    if not records:
        path.write_text("", encoding="utf-8")
        return
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        for record in records:
            writer.writerow(
                {
                    k: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v
                    for k, v in record.items()
                }
            )


def write_files(results: BenchResults, rows: Sequence[SummaryRow], out: Path) -> list[str]:
    """results.json, results.csv (one row per contender, workload and profile), runs.csv (one
    row per run) and chart.png; returns notes (a chart that could not be drawn), which are
    also added to ``results.notes``."""
    out.mkdir(parents=True, exist_ok=True)
    note = chart(results, rows, out / "chart.png")
    if note:
        results.notes.append(note)
    document = as_json(results, rows)
    (out / "results.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    _csv(out / "results.csv", document["summary"])
    _csv(out / "runs.csv", document["runs"])
    return [note] if note else []


def chart(results: BenchResults, rows: Sequence[SummaryRow], path: Path) -> str | None:
    """Grouped bars: MiB/s (large) and files/s (small) per profile, one bar per contender.
    Returns a note instead when matplotlib is not importable."""
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt: Any = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return "chart.png skipped: matplotlib is not importable (pip install matplotlib)"
    config = results.config
    panels = [(w, "MiB/s" if w == "large" else "files/s") for w in config.workloads]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    by_key = {(r.contender, r.workload, r.profile): r for r in rows}
    contenders = [c for c in config.contenders if any(r.contender == c and r.runs for r in rows)]
    width = 0.8 / max(len(contenders), 1)
    colours = plt.get_cmap("tab10")
    for ax, (workload, unit) in zip(axes[0], panels, strict=True):
        for i, contender in enumerate(contenders):
            xs, heights, labels = [], [], []
            for x, profile in enumerate(config.profiles):
                row = by_key.get((contender, workload, profile))
                value = None
                if row is not None:
                    value = row.mib_s if workload == "large" else row.files_s
                xs.append(x + (i - (len(contenders) - 1) / 2) * width)
                heights.append(value or 0.0)
                if row is None or row.status == "skipped":
                    labels.append("skip")
                elif row.status in ("failed", "timeout"):
                    labels.append("fail")
                elif row.status == "partial":
                    labels.append(f"{row.survived}/{row.runs}")
                else:
                    labels.append("")
            bars = ax.bar(xs, heights, width, label=contender, color=colours(i % 10))
            for bar, label in zip(bars, labels, strict=True):
                if label:
                    ax.annotate(
                        label,
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        rotation=90,
                    )
        size = results.data.large.size if workload == "large" and results.data.large else None
        what = (
            f"one {size // MiB} MiB file"
            if size
            else f"{len(results.data.small)} x {results.data.small[0].size // 1024} KiB files"
            if results.data.small
            else workload
        )
        ax.set_title(f"{workload}: {what} ({unit}, higher is better)")
        ax.set_xticks(range(len(config.profiles)))
        ax.set_xticklabels(list(config.profiles))
        ax.set_ylabel(unit)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8)
    fig.suptitle(
        f"resilient-s3 bench on {results.target.kind} {results.target.version}"
        f"{' over https' if results.target.tls else ''}, "
        f"{os.cpu_count()} cores (median of {config.repeat}; fail/skip: no bar)",
        fontsize=10,
    )
    rows_of_legend = (len(labels) + 3) // 4
    fig.tight_layout(rect=(0, 0.05 * rows_of_legend, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
