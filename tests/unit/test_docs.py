"""The docs stay true: every operation of the model has a line in docs/compatibility.md, every serve
flag and BATCHEMU_* variable is in README's configuration table, README's commands exist, the ready line
README quotes is the one printed, and README and docs name no file that is not in the repository."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from batchemu import config
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


def test_every_settings_variable_is_in_the_readme_configuration_table() -> None:
    table = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `--")]
    missing = [name for name in config._ENV if not any(f"`{config.variable(name)}`" in row for row in table)]
    assert missing == []


def test_the_ready_line_readme_quotes_is_the_one_serve_prints() -> None:
    readme = " ".join((ROOT / "README.md").read_text().split())
    quoted = re.search(r"`(batchemu \S+ ready on [^`]+)`", readme)
    assert quoted is not None
    source = (ROOT / "batchemu" / "cli.py").read_text()
    assert 'ready on {endpoint} (runner: {emulator.runner.name}); "' in source
    assert 'f"dashboard: {endpoint}{DASHBOARD_PATH}"' in source
    assert quoted.group(1) == (
        "batchemu 0.1.0 ready on http://127.0.0.1:8000 (runner: simulated); "
        "dashboard: http://127.0.0.1:8000/_batchemu/ui"
    )


# Files batchemu writes at run time (in a --state-dir), which documents name but the repository lacks.
WRITTEN_AT_RUN_TIME: set[str] = set()


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.mark.parametrize(
    "document",
    [
        "README.md",
        "docs/compatibility.md",
        "docs/performance.md",
        "docs/reliability.md",
        "examples/thumbnail/README.md",
    ],
)
def test_documents_name_no_file_outside_the_repository(document: str) -> None:
    """A file named in a document (`docs/x.md`, `scripts/bench.py`, a link) exists in the repository;
    names relative to the package or to the document's folder count."""
    files = _tracked_files()
    text = (ROOT / document).read_text()
    named = set(re.findall(r"(?<![\w/.-])([\w.-]+(?:/[\w.-]+)*\.(?:md|py|sh|toml|cfg|json|ya?ml))\b", text))
    named |= {target for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)}
    named -= {name for name in named if name.rsplit("/", 1)[-1] in WRITTEN_AT_RUN_TIME}
    missing = [
        name for name in sorted(named) if not any(path == name or path.endswith("/" + name) for path in files)
    ]
    assert missing == []


def test_readme_test_command_exists_and_ci_runs_it() -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^(\. \.venv/bin/activate && )?scripts/test$", readme, re.M)
    assert os.access(ROOT / "scripts" / "test", os.X_OK)
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
