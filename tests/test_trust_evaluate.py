"""A hostile user's evaluate: --split on a checkpoint that has no run, and so no split, of its own."""

from reliability_helpers import assert_one_error_line, run_main

import torch_logreg


def test_split_of_a_model_saved_with_save_model_is_refused_not_scored_on_the_default_data(tmp_path, capsys):
    # Before: exit 0 and the untrained model's "held-out" scores on the breast-cancer split it never saw.
    torch_logreg.save_model(torch_logreg.LogisticRegression(30), tmp_path / "mine.pt", classes=[0, 1])
    outcome = run_main(capsys, "evaluate", "--checkpoint", tmp_path / "mine.pt", "--split", "test")
    assert outcome.status == 2 and outcome.out == ""
    assert_one_error_line(outcome.err, str(tmp_path / "mine.pt"), "no split of its own", "--data")
