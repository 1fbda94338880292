"""scripts/clean removes the images the tests and examples build and this checkout's .cache/, and nothing else:
run from a copy of the checkout against a stand-in `docker` (the real engine's images are shared)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGES = [
    "batchemu-test/busybox:latest",
    "batchemu-test/python:latest",
    "batchemu-examples/thumbnail:0123abcd",
    "batchemu:e2e-1a2b3c4d",
    "batchemu:latest",  # the user's own sidecar build (README): not the tests'
    "batchemu-test-other/x:1",
    "python:3.12-slim",
    "busybox:latest",
]
DOCKER = """#!/usr/bin/env bash
case "$1 $2" in
  "info "*) exit 0 ;;
  "image ls") printf '%s\\n' {images} ;;
  "image rm") echo "$3" >> "{log}"; [ "$3" != batchemu-test/python:latest ] ;;  # in use by a container
  *) exit 3 ;;
esac
"""


def run_clean(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "clean", checkout / "scripts" / "clean")
    (checkout / ".cache" / "clients").mkdir(parents=True)
    (checkout / ".cache" / "clients" / "file").write_text("x" * 1000)
    (checkout / ".venv").mkdir()
    bin_dir, log = tmp_path / "bin", tmp_path / "removed"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(DOCKER.replace("{images}", " ".join(IMAGES)).replace("{log}", str(log)))
    docker.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [str(checkout / "scripts" / "clean"), *args], capture_output=True, text=True, env=env, timeout=60
    )
    return result, log.read_text().split() if log.exists() else []


def test_clean_removes_the_test_images_and_the_cache_only(tmp_path: Path) -> None:
    result, removed = run_clean(tmp_path)
    ours = ["batchemu-test/busybox:latest", "batchemu-test/python:latest"]
    ours += ["batchemu-examples/thumbnail:0123abcd", "batchemu:e2e-1a2b3c4d"]
    assert removed == ours
    assert not (tmp_path / "checkout" / ".cache").exists()
    assert (tmp_path / "checkout" / ".venv").is_dir()
    # an image a container still uses is kept, named, and the exit status says so
    assert result.returncode == 1
    assert "kept image batchemu-test/python:latest" in result.stderr
    assert "removed image batchemu:e2e-1a2b3c4d" in result.stdout


def test_clean_dry_run_removes_nothing(tmp_path: Path) -> None:
    result, removed = run_clean(tmp_path, "--dry-run")
    assert (result.returncode, removed) == (0, [])
    assert (tmp_path / "checkout" / ".cache" / "clients" / "file").exists()
    assert "would remove image batchemu-test/busybox:latest" in result.stdout
    assert "would remove image batchemu:latest" not in result.stdout
    assert f"would remove {tmp_path / 'checkout' / '.cache'}" in result.stdout
