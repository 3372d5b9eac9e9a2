"""Each benchmark module on a trivial size: every method gets a row, and the files hold them.

Benchmarks are not tests: nothing here checks a time, only that each module still runs
against the library's public API and writes the table it promises.
"""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    loop_time,
    machine,
    mlp_time,
    numpy_baseline,
    profile_ops,
    report,
    run,
    solve_time,
    step_time,
)
from benchmarks.problems import Size  # noqa: E402

QUIET = {"log": lambda _: None}


def _no_errors(section):
    assert section["rows"] and not [row for row in section["rows"] if "error" in row], section["rows"]


def _headers(section):
    return [header for _, header, _ in section["columns"]]


def test_step_table_is_written_as_json_and_markdown(tmp_path):
    section = step_time.run([Size(200, 4)], "cpu", repeats=2, min_seconds=0.0001, child_numpy=False, **QUIET)
    methods = [row["method"] for row in section["rows"]]
    assert methods[0] == step_time.NUMPY and step_time.AUTOGRAD in methods and step_time.HAND in methods
    assert step_time.PLAIN in methods and step_time.FLOOR in methods
    assert any(m.startswith(step_time.TRAINER) for m in methods)
    _no_errors(section)
    numpy_row = section["rows"][0]
    assert numpy_row["vs_numpy"] == 1.0 and numpy_row["ms_per_step"] > 0 and numpy_row["gb_per_s"] > 0

    info = machine.describe("cpu")
    result = {
        "machine": info,
        "run": {"command": "test", "device": "cpu", "quick": True, "seconds": 0.0},
        "sections": {"step": section},
    }
    stem = machine.result_stem(info, quick=True)
    assert stem.startswith("cpu-") and stem.endswith("-quick")
    json_path, md_path = report.write(result, tmp_path, stem)

    saved = json.loads(json_path.read_text())
    assert saved["machine"]["torch_threads"] >= 1 and "openblas_env" in saved["machine"]
    assert [row["method"] for row in saved["sections"]["step"]["rows"]] == methods
    markdown = md_path.read_text()
    assert "| size | method | ms/step |" in markdown
    assert markdown.count("| 200×4 |") == len(methods)


def test_plain_ops_compute_the_same_gradients_as_the_library(monkeypatch):
    import torch

    from torch_logreg.nn import functional as LF

    m = 600_000  # narrow float64 rows: three row blocks in the library (4 MB each), one pass in the plain ops
    monkeypatch.setattr(LF, "CPU_GRADIENT_BLOCK_BYTES", 4 << 20)
    assert (
        len(LF.row_blocks(torch.empty(m, 2, dtype=torch.float64), block_bytes=LF.CPU_GRADIENT_BLOCK_BYTES))
        == 3
    )
    x, y = torch.randn(m, 2, dtype=torch.float64), (torch.rand(m) < 0.5).double()
    weight, bias = torch.randn(1, 2, dtype=torch.float64), torch.randn(1, dtype=torch.float64)
    expected = LF.cost_and_grads(x, y, weight, bias, with_cost=True)
    for got, want in zip(step_time.plain_cost_and_grads(x, y, weight, bias, with_cost=True), expected):
        torch.testing.assert_close(got, want)


def test_loop_table_states_its_target_against_the_autograd_loop():
    section = loop_time.run([(Size(300, 4), (2, 4), 1)], "cpu", **QUIET)
    _no_errors(section)
    (row,) = section["rows"]
    assert row["train_rows"] == 300 and row["step_kind"] == "hand"
    assert row["target"] == "≥ 1× autograd loop" and row["met"] in ("yes", "NO")
    assert "train() ms/it" in _headers(section)


def test_mlp_table_has_a_row_per_network_binary_and_multiclass():
    plan = [(mlp_time.Net(60, 3, 4, 2), (1, 3), 1, 100), (mlp_time.Net(60, 3, 5, 3), (1, 3), 1, 100)]
    section = mlp_time.run(plan, "cpu", **QUIET)
    _no_errors(section)
    assert [row["size"] for row in section["rows"]] == ["60×3 → 4 → 1", "60×3 → 5 → 3"]
    assert all(row["ours_ms_per_it"] == row["ours_ms_per_it"] for row in section["rows"])  # not NaN
    assert mlp_time.TARGETS[mlp_time.FLOWER] == 2.0 and mlp_time.FLOWER.label == "400×2 → 4 → 1 (flower)"


def test_solve_table_reaches_the_gap_with_every_method():
    problem = solve_time.synthetic_problem(Size(400, 3))
    section = solve_time.run("cpu", quick=True, repeats=1, chosen=[problem], **QUIET)
    errors = {row["method"]: row["error"] for row in section["rows"] if "error" in row}
    if importlib.util.find_spec("statsmodels") is None:  # a test-only extra that CI may not install
        assert list(errors) == [solve_time.STATSMODELS] and "statsmodels" in errors[solve_time.STATSMODELS]
    else:
        assert not errors
    methods = [row["method"] for row in section["rows"]]
    assert (
        solve_time.SK_NEWTON in methods
        and solve_time.SK_LBFGS in methods
        and solve_time.STATSMODELS in methods
    )
    assert "ours: train(), float64" in methods and "ours: train(), float32" in methods
    assert all(row["gap"] <= solve_time.GAP for row in section["rows"] if "error" not in row)
    ours = next(row for row in section["rows"] if row["method"] == "ours: train(), float64")
    assert ours["target_met"] in ("yes", "NO") and ours["vs_newton_cholesky"] > 0
    assert "≥ 1× newton-cholesky" in _headers(section)


def test_separable_data_get_a_statsmodels_row_that_says_why():
    import torch

    x = torch.linspace(-1, 1, 40, dtype=torch.float64).unsqueeze(1)
    y = (x[:, 0] > 0).double()
    problem = solve_time.Problem("separable", x, y, x, y)
    optimum, _ = solve_time.optimum(problem, 0.0)
    assert optimum is None
    _, errors = solve_time._configure(problem, {solve_time.L2: 0.0, 0.0: None})
    assert "separable" in errors[solve_time.STATSMODELS]


def test_profile_writes_its_tables_from_public_calls(tmp_path, capsys):
    assert (
        profile_ops.main(["--sizes", "300x4", "--iterations", "20", "--repeats", "2", "--out", str(tmp_path)])
        == 0
    )
    (written,) = tmp_path.glob("profile-cpu-*.md")
    text = written.read_text()
    assert (
        "## 300×4" in text
        and "train(save=True) total" in text
        and "| function | cumulative s | calls |" in text
    )
    assert "trainer." in text  # cProfile saw the library's functions


def test_run_writes_to_the_ignored_folder_by_default_under_distinct_names(tmp_path, monkeypatch):
    assert run.parse_args([]).out == run.LOCAL_RESULTS
    assert "benchmarks/results/local/" in (ROOT / ".gitignore").read_text().splitlines()
    monkeypatch.setitem(run.PLANS, ("cpu", True), {"step": [Size(100, 3)], "loop": [], "mlp": []})
    assert run.main(["--quick", "--sections", "step,loop", "--out", str(tmp_path)]) == 0
    (md_path,) = tmp_path.glob("*.md")
    assert md_path.with_suffix(".json").is_file()
    host = machine.slug(machine.describe("cpu")["hostname"])
    assert md_path.stem.startswith("cpu-") and f"-{host}-" in md_path.stem and md_path.stem.endswith("-quick")
    text = md_path.read_text()
    assert "| 100×3 |" in text and "from the issue" not in text


def test_numpy_baseline_prints_one_json_line(capsys):
    numpy_baseline.main(["50", "3", "--repeats", "2", "--min-seconds", "0.001"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["seconds"] > 0 and result["repeats"] == 2


@pytest.mark.parametrize(
    "module",
    [
        loop_time,
        mlp_time,
        solve_time,
        step_time,
        profile_ops,
        "compare",
        "compare_worker",
        "gemv_blocks",
        "threads_time",
    ],
)
def test_benchmarks_call_no_trainer_internals(module):
    path = Path(module.__file__) if not isinstance(module, str) else ROOT / "benchmarks" / f"{module}.py"
    source = path.read_text()
    assert "Trainer" not in source and "trainer." not in source


def test_compare_times_a_ref_against_the_work_tree_in_one_table(tmp_path, capsys):
    from benchmarks import compare

    assert compare.main(["HEAD", "--sizes", "300x4", "--repeats", "1", "--out", str(tmp_path)]) == 0
    (written,) = tmp_path.glob("compare-*.json")
    rows = json.loads(written.read_text())["rows"]
    assert [(row["size"], row["ref"]) for row in rows] == [("300×4", "HEAD")]
    assert rows[0]["ratio"] > 0 and "ref/work tree" in capsys.readouterr().out


def test_compare_refuses_what_is_not_a_commit(capsys):
    from benchmarks import compare

    assert compare.main(["no-such-ref-anywhere"]) == 2
    assert "'no-such-ref-anywhere' is not a commit" in capsys.readouterr().err


def test_gemv_blocks_prints_each_product_and_the_sweep(capsys):
    from benchmarks import gemv_blocks

    gemv_blocks.main(["--n", "8", "--rows", "3000", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "numpy dot(x, w)" in out and "torch mv(x, w)" in out and "one pass, 1024 KB blocks" in out


def test_threads_time_writes_before_and_after_against_newton_cholesky(tmp_path):
    from benchmarks import threads_time

    assert threads_time.main(["--sizes", "300x4", "--repeats", "1", "--out", str(tmp_path)]) == 0
    (written,) = tmp_path.glob("threads-*.json")
    (row,) = json.loads(written.read_text())["rows"]
    assert row["before"]["vs newton-cholesky"] > 0 and row["after"]["vs newton-cholesky"] > 0
    assert set(row["after"]["cpu ms"]) == {"main", "BLAS workers", "torch threads"}


def test_art_step_times_ours_and_autograd_and_writes_the_table(tmp_path):
    pytest.importorskip("sklearn")  # the built-in photographs
    from benchmarks import art_step

    section = art_step.run(
        [("vgg19", "style transfer", 32)], "cpu", repeats=2, min_seconds=0.001, log=lambda _: None
    )
    _no_errors(section)
    (row,) = section["rows"]
    assert row["ratio"] > 0 and row["grad_difference"] < 1e-4
    assert (
        art_step.main(
            ["--sizes", "32", "--repeats", "2", "--min-seconds", "0.001", "--no-vgg", "--out", str(tmp_path)]
        )
        == 0
    )
    (md_path,) = tmp_path.glob("art-cpu-*.md")
    assert "PyTorch ÷ ours" in md_path.read_text() and md_path.with_suffix(".json").is_file()


@pytest.mark.slow
def test_sparse_time_writes_every_methods_matched_run(tmp_path):
    from benchmarks import sparse_time

    assert (
        sparse_time.main(["--rows", "400", "--columns", "2000", "--density", "0.01", "--out", str(tmp_path)])
        == 0
    )
    (record,) = [json.loads(path.read_text()) for path in tmp_path.glob("sparse-*.json")]
    matched = {run["method"] for run in record["results"] if run.get("matched")}
    assert matched == {"sklearn-lbfgs", "ours-lbfgs", "ours-newton"}
    assert set(record["speedup_vs_sklearn"]) == {"ours-lbfgs", "ours-newton"}
    assert "matched" in next(tmp_path.glob("sparse-*.md")).read_text()
