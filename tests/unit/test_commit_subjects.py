"""Commit subjects stay short enough to read in `git log --oneline`: at most 72 characters, the
details in the body. Checked for every commit since the rule was made (the one after 7a623d3);
older history is as it was written."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RULE_SINCE = "7a623d3"  # the last commit before subjects were kept short
MAX_SUBJECT_CHARS = 72


def test_every_new_commit_subject_is_at_most_72_characters() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    known = subprocess.run(
        ["git", "cat-file", "-e", f"{RULE_SINCE}^{{commit}}"], cwd=REPO, check=False
    )
    if known.returncode != 0:
        pytest.skip(f"a shallow clone without {RULE_SINCE}")
    subjects = subprocess.run(
        ["git", "log", "--format=%h %s", f"{RULE_SINCE}..HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    long = [line for line in subjects if len(line.split(" ", 1)[1]) > MAX_SUBJECT_CHARS]
    assert not long, f"shorten these subjects, and put the details in the body: {long}"
