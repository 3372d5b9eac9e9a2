"""A hostile user's folders: names a run also writes (config.yaml, result.png), in a folder not a run."""

import pytest
from reliability_helpers import QUIET, assert_one_error_line, run_main, snapshot


@pytest.mark.parametrize(
    "files",
    [
        ["result.png", "config.yaml"],  # was emptied: art's files counted as an old run's
        ["config.yaml"],  # was emptied: a config file of the user's alone made the folder "a run"
        ["config.yaml", "metrics.json", "command.txt"],
        ["checkpoint.pt", "result.png"],  # art writes the marker: without it, not an art run
    ],
)
def test_overwrite_never_empties_an_unmarked_folder_without_a_runs_evidence(tmp_path, capsys, files):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in files:
        (folder / name).write_text(f"the user's {name}\n")
    before = snapshot(folder)
    outcome = run_main(capsys, "train.iterations=2", *QUIET, "--run-dir", folder, "--overwrite")
    assert outcome.status == 2
    assert_one_error_line(outcome.err, str(folder), "is not a torch_logreg run folder")
    assert snapshot(folder) == before
