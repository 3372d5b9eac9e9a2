"""The benchmark's tables on a trivial size: every method gets a row, and the files hold them.

Benchmarks are not tests: nothing here checks a time, only the structure of what is written.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import machine, report, step_time  # noqa: E402
from benchmarks.problems import Size  # noqa: E402


def test_step_table_is_written_as_json_and_markdown(tmp_path):
    section = step_time.run([Size(200, 4)], "cpu", repeats=2, min_seconds=0.0001, log=lambda _: None,
                            child_numpy=False)
    methods = [row["method"] for row in section["rows"]]
    assert methods[0] == step_time.NUMPY and step_time.AUTOGRAD in methods and step_time.HAND in methods
    assert any(m.startswith(step_time.TRAINER) for m in methods) and step_time.FLOOR in methods
    assert not [row for row in section["rows"] if "error" in row]
    numpy_row = section["rows"][0]
    assert numpy_row["vs_numpy"] == 1.0 and numpy_row["ms_per_step"] > 0 and numpy_row["gb_per_s"] > 0

    info = machine.describe("cpu")
    result = {"machine": info, "run": {"command": "test", "device": "cpu", "quick": True, "seconds": 0.0},
              "sections": {"step": section}}
    stem = machine.result_stem(info, quick=True)
    assert stem.startswith("cpu-") and stem.endswith("-quick")
    json_path, md_path = report.write(result, tmp_path, stem)

    saved = json.loads(json_path.read_text())
    assert saved["machine"]["torch_threads"] >= 1 and "openblas_env" in saved["machine"]
    assert [row["method"] for row in saved["sections"]["step"]["rows"]] == methods
    markdown = md_path.read_text()
    assert "| size | method | ms/step |" in markdown
    assert markdown.count("| 200×4 |") == len(methods)
