"""``stats.Summary`` as text (in the spirit of statsmodels' ``summary()``), CSV and Markdown."""

from __future__ import annotations

import csv
import io

COLUMNS = ("coef", "std_err", "z", "p_value", "ci_low", "ci_high")
HEADINGS = ("coef", "std err", "z", "P>|z|", "[0.025", "0.975]")
MARKDOWN_HEADINGS = ("coef", "std err", "z", "P>\\|z\\|", "95% low", "95% high")  # a bare | splits a cell
NUMBER_WIDTH = 11


def _number(value: float) -> str:
    """Fixed point where it reads well, scientific for the very large and the very small."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.3e}"


def _p_value(value: float) -> str:
    return f"{value:.3f}" if value >= 1e-3 or value == 0 else f"{value:.2e}"


def _header_pairs(summary) -> list[tuple[str, str]]:
    converged = {True: "yes", False: "no", None: "not stated"}[summary.converged]
    return [
        ("Observations", str(summary.nobs)),
        ("Log-likelihood", f"{summary.log_likelihood:.6g}"),
        ("Classes", ", ".join(map(str, summary.classes))),
        ("LL-Null", f"{summary.ll_null:.6g}"),
        ("Pseudo R² (McFadden)", f"{summary.pseudo_r2:.4f}"),
        ("Converged", converged),
        ("Penalty (l2)", f"{summary.l2:g}" if summary.l2 else "none"),
        ("Feature units", "raw (de-standardized)" if summary.standardized else "as fitted"),
    ]


def _blocks(summary):
    """[(equation label, row indices)]: one block for 2 classes, K − 1 for K."""
    blocks: list[tuple[object, list[int]]] = []
    for index, label in enumerate(summary.equation):
        if not blocks or blocks[-1][0] != label:
            blocks.append((label, []))
        blocks[-1][1].append(index)
    return blocks


def summary_text(summary) -> str:
    name_width = min(max([len("const"), *(len(str(name)) for name in summary.names)]) + 2, 32)
    width = name_width + NUMBER_WIDTH * len(COLUMNS)
    pairs = _header_pairs(summary)
    half = width // 2
    lines = ["Logistic regression results".center(width), "=" * width]
    for left, right in zip(pairs[0::2], pairs[1::2]):
        cell = lambda pair: f"{pair[0] + ':':<22}{pair[1]:>{half - 24}}"  # noqa: E731
        lines.append(f"{cell(left)}  {cell(right)}".rstrip())
    multinomial = len(summary.classes) > 2
    for label, rows in _blocks(summary):
        lines.append("=" * width)
        heading = f"y = {label} (vs {summary.classes[0]})" if multinomial else f"y = {label}"
        lines.append(f"{heading:<{name_width}}" + "".join(f"{h:>{NUMBER_WIDTH}}" for h in HEADINGS))
        lines.append("-" * width)
        for i in rows:
            name = str(summary.names[i])
            name = name if len(name) <= name_width - 1 else name[: name_width - 2] + "…"
            values = [
                _number(float(summary.coef[i])),
                _number(float(summary.std_err[i])),
                f"{float(summary.z[i]):.3f}",
                _p_value(float(summary.p_value[i])),
                _number(float(summary.ci_low[i])),
                _number(float(summary.ci_high[i])),
            ]
            lines.append(f"{name:<{name_width}}" + "".join(f"{v:>{NUMBER_WIDTH}}" for v in values))
    lines.append("=" * width)
    lines += [f"Note: {note}." for note in summary.notes]
    return "\n".join(lines)


def summary_csv(summary) -> str:
    """One row per coefficient, full precision: equation, name, coef, std_err, z, p_value, ci_low, ci_high."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("equation", "name", *COLUMNS))
    for i, name in enumerate(summary.names):
        writer.writerow((summary.equation[i], name, *(repr(float(getattr(summary, c)[i])) for c in COLUMNS)))
    return buffer.getvalue()


def summary_markdown(summary) -> str:
    """The header as a two-column table, then the coefficients (TensorBoard's text plugin renders
    Markdown)."""
    lines = ["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in _header_pairs(summary)), ""]
    lines += [
        "| equation | name | " + " | ".join(MARKDOWN_HEADINGS) + " |",
        "|---|---|" + "---:|" * len(COLUMNS),
    ]
    for i, name in enumerate(summary.names):
        values = [
            _number(float(summary.coef[i])),
            _number(float(summary.std_err[i])),
            f"{float(summary.z[i]):.3f}",
            _p_value(float(summary.p_value[i])),
            _number(float(summary.ci_low[i])),
            _number(float(summary.ci_high[i])),
        ]
        lines.append(f"| {summary.equation[i]} | {name} | " + " | ".join(values) + " |")
    lines += ["", *(f"*{note}.*" for note in summary.notes)]
    return "\n".join(lines)
