"""The docs stay true: every operation of the model has a line in docs/compatibility.md, every serve
flag is in README's configuration table, and README's commands exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from batchemu.cli import build_parser
from batchemu.protocol import spec
from batchemu.service.dispatch import operation_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("operation", sorted(operation_table()))
def test_every_implemented_operation_has_a_support_line(operation: str) -> None:
    assert f"| {operation} |" in (ROOT / "docs" / "compatibility.md").read_text()


def test_every_operation_of_the_installed_model_is_implemented() -> None:
    """A botocore release may add operations; they answer ClientException until implemented."""
    missing = sorted(set(spec.operation_names()) - set(operation_table()))
    assert missing == []


def test_every_serve_flag_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    flags = [
        option for action in serve._actions for option in action.option_strings if option.startswith("--")
    ]
    missing = [flag for flag in flags if flag not in ("--help",) and f"`{flag}" not in readme]
    assert missing == []


def test_readme_test_command_exists_and_ci_runs_it() -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^scripts/test$", readme, re.M)
    assert os.access(ROOT / "scripts" / "test", os.X_OK)
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
