"""Every file is read by name and every number strictly, the same way on every path."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torch_logreg.data.read_table import NON_FINITE, NUMBER, load_table
from torch_logreg.data.split import load_split
from torch_logreg.errors import ConfigError, DataError, UserInputError
from torch_logreg.training.config import DataConfig, load_config


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "cell",
    [
        "1_000",
        "0x10",
        "1 2",
        "\u00a01",
        "\uff11",
        "\u0661",
        "1e",
        "e5",
        "--1",
        "1,5",
        "",
        "0b1",
        "1.2.3",
        "infinity1",
        "1j",
        "\u20071",
    ],
)
def test_a_cell_that_python_float_might_read_is_not_a_number(tmp_path, cell):
    path = write(tmp_path / "d.csv", f'a,b,y\n1,2,0\n3,"{cell}",1\n')
    with pytest.raises(DataError, match=r"d.csv: line 3, column 'b': .* is not a number"):
        load_table(path)


@pytest.mark.parametrize("cell", ["nan", "-inf", "Infinity", "+NaN", "1e999"])
def test_non_finite_cells_are_refused_by_line_and_column(tmp_path, cell):
    path = write(tmp_path / "d.csv", f"a,b,y\n1,2,0\n3,{cell},1\n")
    with pytest.raises(DataError, match=r"line 3, column 'b': .* is not finite"):
        load_table(path)


@pytest.mark.parametrize(
    "cell,value", [("1", 1.0), (" -2.5 ", -2.5), (".5", 0.5), ("5.", 5.0), ("1E+3", 1000.0), ("+7e-1", 0.7)]
)
def test_decimal_and_exponent_forms_are_numbers(tmp_path, cell, value):
    path = write(tmp_path / "d.csv", f"a,y\n{cell},0\n0,1\n")
    assert load_table(path).x[0, 0].item() == value


def test_training_refuses_two_columns_of_one_name(tmp_path):
    path = write(tmp_path / "d.csv", "a,a,y\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match="column 'a' appears 2 times in the header"):
        load_table(path)


def test_a_test_file_is_matched_by_column_name(tmp_path):
    train = write(tmp_path / "train.csv", "a,b,y\n1,10,0\n2,20,1\n3,30,0\n4,40,1\n")
    test = write(tmp_path / "test.csv", "b,y,a\n50,1,5\n60,0,6\n")
    split = load_split(DataConfig(path=str(train), test_path=str(test), standardize=False), seed=0)
    assert split.x_test.tolist() == [[5.0, 50.0], [6.0, 60.0]]


@pytest.mark.parametrize(
    "header,named", [("a,y", "missing column 'b'"), ("a,b,c,y", "column 'c' is not a training feature")]
)
def test_a_test_file_with_missing_or_extra_features_is_refused(tmp_path, header, named):
    train = write(tmp_path / "train.csv", "a,b,y\n1,10,0\n2,20,1\n")
    width = header.count(",") + 1
    test = write(tmp_path / "test.csv", header + "\n" + ",".join(["1"] * (width - 1)) + ",0\n")
    with pytest.raises(DataError, match=f"test.csv: {named}"):
        load_split(DataConfig(path=str(train), test_path=str(test)), seed=0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_strict_numbers_are_what_the_grammar_says(text):
    import re

    is_number = lambda cell: bool(NUMBER.fullmatch(cell) or NON_FINITE.fullmatch(cell))  # noqa: E731
    grammar = (
        r"[ \t\n\r\f\v]*([+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(nan|inf|infinity))"
        r"[ \t\n\r\f\v]*"
    )
    assert is_number(text) == bool(re.fullmatch(grammar, text, flags=re.IGNORECASE | re.ASCII))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet='0123456789.eE+-_x ,"\n\tnaif\u00a0', max_size=6), min_size=1, max_size=8))
def test_any_bad_cell_is_one_clean_error_never_a_traceback(tmp_path_factory, cells):
    path = tmp_path_factory.mktemp("csv") / "d.csv"
    body = "\n".join(f"{cell.replace(chr(34), '')!r},0" for cell in cells)
    path.write_text("a,y\n" + body + "\n1,1\n")
    try:
        table = load_table(path)
    except UserInputError as error:
        assert "\n" not in str(error).strip() or "line" in str(error)
        return
    assert torch.isfinite(table.x).all()


# ---------------------------------------------------------------- YAML


def test_a_key_given_twice_names_the_key_and_both_lines(tmp_path):
    path = write(tmp_path / "c.yaml", "optimizer:\n  lr: 0.1\n  name: gd\n  lr: 0.2\n")
    with pytest.raises(ConfigError, match=r"c.yaml: line 4: .*'lr' is given twice \(lines 2 and 4\)"):
        load_config(path)


def test_a_section_given_twice_is_refused(tmp_path):
    path = write(tmp_path / "c.yaml", "optimizer:\n  lr: 0.1\ntrain:\n  seed: 1\noptimizer:\n  lr: 0.2\n")
    with pytest.raises(ConfigError, match=r"'optimizer' is given twice \(lines 1 and 5\)"):
        load_config(path)


def test_nested_aliases_are_refused_in_bounded_space(tmp_path):
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, 12):
        text += (
            f"l{level}: &l{level} [" + ", ".join([f"*{'a' if level == 1 else f'l{level - 1}'}"] * 9) + "]\n"
        )
    path = write(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "alias" in str(caught.value) and len(str(caught.value)) < 300


def test_an_alias_in_an_override_is_not_expanded():
    with pytest.raises(ConfigError):
        load_config(None, ["model.hidden=[*a, *a]"])


_yaml_text = st.text(alphabet="ab:- &*[]{},\n\"'!#1.", max_size=40)


@settings(max_examples=300, deadline=None)
@given(_yaml_text)
def test_any_generated_yaml_is_a_config_or_one_clean_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("yaml") / "c.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except UserInputError as error:
        assert "\n" not in str(error) and len(str(error)) < 600


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet='01.e-_x, "\nna\u00a0', max_size=5), min_size=2, max_size=5))
def test_any_generated_csv_trains_or_gives_one_error_line_on_the_command_line(
    tmp_path_factory, capsys, cells
):
    from reliability_helpers import QUIET, run_main

    folder = tmp_path_factory.mktemp("cli")
    rows = "".join(f'"{cell.replace(chr(34), "")}",{i % 2}\n' for i, cell in enumerate(cells))
    (folder / "d.csv").write_text("a,y\n" + rows + "0,0\n1,1\n")
    done = run_main(
        capsys,
        *QUIET,
        f"data.path={folder / 'd.csv'}",
        "data.test_path=" + str(folder / "d.csv"),
        "train.iterations=1",
        "--run-dir",
        folder / "run",
    )
    assert "Traceback" not in done.err
    if done.status != 0:
        errors = done.err.splitlines()
        assert (
            done.status == 2 and len(errors) == 1 and errors[0].startswith("error: ") and "d.csv" in errors[0]
        )
