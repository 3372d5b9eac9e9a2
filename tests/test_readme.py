"""The README's shell and Python blocks, run as a reader runs them: in a clean copy of the repository, twice.

- A fenced ``bash`` or ``python`` block runs (bash with ``-euo pipefail``, Python in a fresh
  interpreter), from the copy's root, with the copy first on ``PYTHONPATH`` as ``pip install -e .``
  would put it. It must exit 0, and exit 0 again when run a second time in a row. The blocks run
  in the README's order in one copy, as a reader runs them: a block may use what an earlier one made.
- A block that cannot run here says so on the line above it, visibly in the README's source:
  ``<!-- readme-test: skip (why) -->``. It shows as a skipped test, with the reason.
- An unlabelled block right after a runnable one is that block's output: the output must be
  exactly those lines (numbers to 1e-3, relative: the last printed digits follow the BLAS's
  thread count), on the first run and on the second. A line ``...`` marks an excerpt: the shown
  lines must then appear in the output, in order.

"A clean copy" is the files git tracks, as ``git clone`` of the working tree would give (no
``runs/``, nothing ignored), with their current content.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability_helpers import ROOT

pytestmark = pytest.mark.slow

SKIP = re.compile(r"<!-- readme-test: skip \((?P<why>.+)\) -->")
FENCE = re.compile(r"```(?P<language>\w*)\s*")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    skip: str | None = None
    output: str | None = None

    @property
    def name(self) -> str:
        return f"README.md:{self.line} {self.language}: {' '.join(self.code.splitlines()[0].split())[:40]}"


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block, each unlabelled one after a runnable block attached to it as its output."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = FENCE.fullmatch(lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        above = next((lines[i].strip() for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = SKIP.fullmatch(above)
        blocks.append(
            Block(
                index + 1,
                fence["language"],
                "\n".join(lines[index + 1 : end]),
                marker["why"] if marker else None,
            )
        )
        index = end + 1
    runnable = []
    for previous, block in zip([None, *blocks], blocks):
        if block.language in ("bash", "python"):
            runnable.append(block)
        elif not block.language and previous is not None and previous.language in ("bash", "python"):
            previous.output = block.code
    return runnable


def matches(shown: str, printed: str, last_command_only: bool = False) -> str | None:
    """None when ``printed`` is what ``shown`` shows, else the first line that differs.

    ``last_command_only``: the block runs several commands and shows what the last one prints,
    so the shown lines must be the last lines printed.
    """
    expected = [line for line in shown.splitlines() if line.strip()]
    actual = [line for line in printed.splitlines() if line.strip()]
    if "..." not in [line.strip() for line in expected]:
        if last_command_only:
            actual = actual[-len(expected) :]
        if len(expected) != len(actual):
            return f"{len(actual)} lines printed, {len(expected)} shown"
        return next(
            (f"{a!r} is shown as {e!r}" for e, a in zip(expected, actual) if not same_line(e, a)), None
        )
    position = 0
    for line in expected:
        if line.strip() == "...":
            continue
        found = next((i for i in range(position, len(actual)) if same_line(line, actual[i])), None)
        if found is None:
            return f"{line!r} is not printed (after line {position})"
        position = found + 1
    return None


def same_line(shown: str, printed: str) -> bool:
    """The same words and spacing-insensitive text, numbers equal to 1e-3 relative."""
    shown_numbers, printed_numbers = NUMBER.findall(shown), NUMBER.findall(printed)
    shown_text = [" ".join(part.split()) for part in NUMBER.split(shown)]
    printed_text = [" ".join(part.split()) for part in NUMBER.split(printed)]
    return (
        shown_text == printed_text
        and len(shown_numbers) == len(printed_numbers)
        and all(
            math.isclose(float(a), float(b), rel_tol=1e-3, abs_tol=1e-12)
            for a, b in zip(shown_numbers, printed_numbers)
        )
    )


BLOCKS = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to know the tracked files")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    copy = tmp_path_factory.mktemp("clone")
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def run_block(block: Block, where: Path) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # `python` is this interpreter
    env = {**os.environ, "PYTHONPATH": str(where), "PATH": path}
    env.pop("TRITON_INTERPRET", None)
    command = (
        ["bash", "-euo", "pipefail", "-c", block.code]
        if block.language == "bash"
        else [sys.executable, "-c", block.code]
    )
    return subprocess.run(
        command, check=False, cwd=where, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_readme_has_runnable_blocks_and_says_why_the_others_do_not_run():
    assert len([block for block in BLOCKS if not block.skip]) >= 5
    assert all(block.skip for block in BLOCKS if "pip install" in block.code or "torchrun" in block.code)


def test_the_output_rule_compares_numbers_to_their_printed_digits():
    assert matches("0,0.02165009454\n0,7.154457762e-06", "0,0.02165011\n0,7.1545e-06") is None
    assert matches("0,0.02165009454", "0,0.0218") is not None  # 7e-3 off
    assert matches("prediction,p_1", "prediction,probability") is not None
    assert matches("a\nb", "a\nb\nc") is not None  # a shown output is the whole output
    assert matches("b  1.5\n...", "a\nb 1.5\nc") is None  # unless it is an excerpt
    assert matches("c\nb\n...", "a\nb\nc") is not None  # in order
    assert (
        matches("b\nc", "a\nb\nc", last_command_only=True) is None
    )  # what the last of several commands prints
    assert matches("a\nb", "a\nb\nc", last_command_only=True) is not None


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_a_readme_block_runs_twice_and_prints_what_the_readme_shows(block, clean_copy):
    if block.skip:
        pytest.skip(f"README.md:{block.line} is marked: {block.skip}")
    for attempt in ("first", "second"):
        done = run_block(block, clean_copy)
        assert done.returncode == 0, (
            f"{attempt} run of {block.name} exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
        if block.output is not None:
            several = block.language == "bash" and len(block.code.strip().splitlines()) > 1
            difference = matches(block.output, done.stdout, last_command_only=several)
            assert difference is None, f"{attempt} run of {block.name}: {difference}\n{done.stdout[-3000:]}"


def test_after_the_readmes_commands_tensorboard_opens_on_the_learning_curve(clean_copy):
    """What ``tensorboard --logdir runs`` shows first once the blocks above have run: the cost of every run
    (no browser here: the cards are ordered as TensorBoard's front end orders them, see tensorboard_order)."""
    from tensorboard_order import first_page

    run_dirs = sorted({path.parent for path in (clean_copy / "runs").rglob("events.out.tfevents.*")})
    if not run_dirs:
        pytest.skip("no README block wrote a run (run the whole file)")
    page = first_page(*run_dirs)
    assert page[0] == ("1_cost", ["1_cost/test", "1_cost/train"])
    assert page[1][0] == "2_accuracy"
