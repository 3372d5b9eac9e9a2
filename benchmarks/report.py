"""The results as JSON (everything measured) and markdown (the tables), named after the machine."""

from __future__ import annotations

import json
from pathlib import Path

MACHINE_KEYS = (
    "cpu_model",
    "logical_cpus",
    "torch_threads",
    "gpu",
    "cuda",
    "torch",
    "numpy",
    "sklearn",
    "triton",
    "torch_blas",
    "numpy_blas",
    "openblas_env",
    "git_commit",
    "hostname",
    "load_average_at_start",
    "load_average_at_end",
    "date",
)


def _cell(value, fmt: str) -> str:
    if value is None or value == "":
        return ""
    if fmt == "s":
        return str(value)
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def section_markdown(section: dict) -> str:
    columns = section["columns"]
    lines = [f"## {section['title']}", ""]
    lines.append("| " + " | ".join(header for _, header, _ in columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in section["rows"]:
        if "error" in row:
            cells = [_cell(row.get(key), fmt) for key, _, fmt in columns[:2]]
            cells += [f"error: {row['error']}"] + [""] * (len(columns) - 3)
        else:
            cells = [_cell(row.get(key), fmt) for key, _, fmt in columns]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    lines.append("")
    lines += [f"- {note}" for note in section.get("notes", [])]
    return "\n".join(lines) + "\n"


def markdown(report: dict) -> str:
    machine = report["machine"]
    lines = [
        f"# torch_logreg benchmark: {machine['gpu'] or machine['cpu_model']} ({report['run']['device']})",
        "",
        f"`{report['run']['command']}` — {report['run']['seconds']:.0f} s",
        "",
        "| machine | |",
        "|---|---|",
    ]
    for key in MACHINE_KEYS:
        if key in machine:
            value = machine[key]
            lines.append(f"| {key} | {json.dumps(value) if isinstance(value, (dict, list)) else value} |")
    lines.append("")
    for section in report["sections"].values():
        lines.append(section_markdown(section))
    return "\n".join(lines)


def write(report: dict, out_dir: Path, stem: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    as_json = dict(report)
    as_json["sections"] = {
        name: {k: (v if k != "columns" else [list(c) for c in v]) for k, v in section.items()}
        for name, section in report["sections"].items()
    }
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(as_json, indent=2, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path
