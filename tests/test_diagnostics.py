"""The design checks (``training.diagnostics.design_warnings``): each singular design gets its one named line,
whichever of the checks finds it first, and a sound design gets none."""

import pytest
import torch

from torch_logreg.training import diagnostics


def design(rows: int = 200, columns: int = 6, seed: int = 0) -> tuple[torch.Tensor, list[str]]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, columns, generator=gen, dtype=torch.float64), [f"c{j}" for j in range(columns)]


def test_a_sound_design_gets_no_warning():
    x, names = design()
    assert diagnostics.design_warnings(x, names, standardized=False) == []
    assert diagnostics.linear_dependency(x) is None


def test_identical_columns_are_named_as_a_pair_not_as_a_dependency():
    x, names = design()
    x[:, 4] = x[:, 1]
    lines = diagnostics.design_warnings(x, names, standardized=False)
    assert len(lines) == 1 and "identical columns" in lines[0] and "'c1' = 'c4'" in lines[0]


@pytest.mark.parametrize("why", ["over the rank check's budget", "fewer rows than columns"])
def test_identical_columns_are_named_where_the_rank_check_cannot_judge(monkeypatch, why):
    if why == "over the rank check's budget":
        monkeypatch.setattr(diagnostics, "RANK_CHECK_BUDGET", 0)
        x, names = design()
    else:
        x, names = design(rows=5, columns=8)
    x[:, 3] = x[:, 0]
    lines = diagnostics.design_warnings(x, names, standardized=False)
    assert any("'c0' = 'c3'" in line for line in lines)


def test_a_linear_combination_is_warned_with_its_rank():
    x, names = design()
    x[:, 5] = 2 * x[:, 0] - x[:, 2] + 3.0
    lines = diagnostics.design_warnings(x, names, standardized=False)
    assert len(lines) == 1 and "linearly dependent (rank 6 of 7 with the intercept)" in lines[0]
    assert diagnostics.linear_dependency(x) == (6, 7)


def test_huge_and_non_finite_features_are_judged_or_left_to_the_data_checks():
    x, names = design()
    x[:, 2] *= 1e300  # finite: each column is scaled before the factorization, so nothing overflows
    x[:, 5] = x[:, 2] * 0.5
    assert diagnostics.linear_dependency(x) == (6, 7)
    x[0, 1] = float("inf")
    assert diagnostics.linear_dependency(x) is None  # named by the data checks, not here


def tall_designs() -> dict[str, tuple[torch.Tensor, list[str]]]:
    """Designs of 10 000 rows, more than a sample of rows holds, whose flaw sits in rows a sample misses."""
    found = {}
    x, names = design(rows=10_000)
    found["sound"] = (x.clone(), names)
    rare = x.clone()
    rare[:, 3] = 0.0
    rare[[6, 7_000, 9_004], 3] = 1.0  # a rare feature: constant in most samples, not in x
    found["rare feature"] = (rare, names)
    once = x.clone()
    once[:, 2] = 4.0
    once[8_344, 2] = -1.0  # constant but for one row
    found["constant but for one row"] = (once, names)
    dependent = x.clone()
    dependent[:, 5] = 2 * dependent[:, 0] - dependent[:, 2] + 3.0
    found["linear combination"] = (dependent, names)
    duplicated = x.clone()
    duplicated[:, 4] = duplicated[:, 2]
    found["identical columns"] = (duplicated, names)
    return found


@pytest.mark.parametrize("kind", list(tall_designs()))
def test_tall_designs_checked_on_a_sample_first_get_the_lines_of_every_row(monkeypatch, kind):
    x, names = tall_designs()[kind]
    sampled = diagnostics.design_warnings(x, names, standardized=False)
    monkeypatch.setattr(diagnostics, "SAMPLE_ROWS", 10**9)  # every row, no sample
    assert sampled == diagnostics.design_warnings(x, names, standardized=False)
    assert bool(sampled) == (kind not in ("sound", "rare feature"))


@pytest.mark.parametrize("rows", [1_000, 10_000, 15_000, 20_000, 50_000])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_an_exact_combination_is_found_at_any_height_and_a_near_one_is_not(rows, dtype):
    """The Gram matrix's eigenvalues lost an exact combination in rounding at 10 000–50 000 rows; the
    singular values of the columns themselves keep it, in float32 data as in float64."""
    x, _ = design(rows=rows, columns=5)
    near = x.clone()
    near[:, 4] = near[:, 0] + 1e-3 * near[:, 4]  # correlated, but determined: no warning
    x[:, 4] = x[:, 0] + 0.3 * x[:, 1] - 2 * x[:, 2]
    assert diagnostics.linear_dependency(x.to(dtype)) == (5, 6)
    assert diagnostics.linear_dependency(near.to(dtype)) is None
