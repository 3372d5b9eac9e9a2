"""A model too large to allocate is one line naming the key and the bytes, before anything is allocated."""

import pytest
from reliability_helpers import QUIET, assert_one_error_line, run_main


@pytest.mark.parametrize("hidden", ["[20000000000]", "[16, 30000000000]", "[4000000000, 4000000000]"])
def test_a_huge_hidden_layer_names_the_key_and_the_bytes(tmp_path, capsys, hidden):
    done = run_main(capsys, *QUIET, "model.name=mlp", f"model.hidden={hidden}", "--run-dir", tmp_path / "run")
    assert done.status == 2
    assert_one_error_line(done.err, "model.hidden", "bytes")
    assert not (tmp_path / "run").exists()
