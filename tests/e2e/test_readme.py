"""README's commands, read from README itself so that it cannot drift from what works: the install+serve line
and the test command on a stock Debian 12 (python3, python3-venv and git from Debian, nothing else; offline
but for PyPI), the boto3 snippet on the Docker runner offline, .ci/run running the same commands, the serve
synopsis naming every flag, and a sidecar build context without virtualenvs and caches."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchemu import Emulator, ServerThread
from batchemu.config import Settings
from tests.helpers import make_client

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
STOCK_IMAGE = "batchemu-test/stock-debian:latest"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def section(title: str) -> str:
    """README's text from the heading `title` to the next heading of the same or a higher level."""
    level = title.split(" ", 1)[0]
    start = README.index(f"\n{title}\n")
    following = re.search(rf"\n#{{1,{len(level)}}} ", README[start + len(title) + 2 :])
    return README[start : start + len(title) + 2 + following.start()] if following else README[start:]


def blocks(text: str, language: str) -> list[str]:
    return [body.strip() for body in re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)]


def install_and_serve() -> str:
    (command,) = [block for block in blocks(section("## Quick start"), "sh") if "pip install" in block]
    return command


def the_test_command() -> str:
    (command,) = [
        block for block in blocks(section("### Running the tests"), "sh") if "scripts/test" in block
    ]
    # arguments appended to it go on to pytest, as README says
    assert command.endswith("scripts/test"), command
    return command


def boto3_snippet(endpoint: str) -> str:
    (snippet,) = blocks(section("## Use it from boto3"), "python")
    assert snippet.count('endpoint_url="http://127.0.0.1:8000"') == 1
    return snippet.replace("http://127.0.0.1:8000", endpoint)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- cheap checks, no engine ----------------------------------------------------------------------------
def test_readme_warns_about_the_test_command_before_giving_it() -> None:
    text = section("### Running the tests")
    before = text[: text.index(the_test_command())]
    for needed in (
        "docker.io",
        "dockerd",
        "chromium",
        "debootstrap",
        "scripts/clean",
        ".cache",
        "rm -rf .venv",
    ):
        assert needed in before, needed


def test_ci_runs_readmes_install_and_test_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text().replace(" --quiet --disable-pip-version-check", "")
    install = install_and_serve().split(" && batchemu serve")[0]
    assert f"\n{install}\n" in ci
    assert f"\n{the_test_command()} -q\n" in ci


def test_serve_synopsis_names_every_flag_and_runner() -> None:
    from batchemu import config
    from batchemu.cli import build_parser

    (synopsis,) = [block for block in blocks(section("## Serving"), "") if block.startswith("batchemu serve")]
    commands = next(action for action in build_parser()._actions if action.dest == "command")
    serve = commands.choices["serve"]  # type: ignore[attr-defined]
    flags = {
        flag for action in serve._actions for flag in action.option_strings if flag not in ("-h", "--help")
    }
    assert sorted(flag for flag in flags if not re.search(rf"\[{flag}[ \]]", synopsis)) == []
    assert f"--runner {'|'.join(config.RUNNERS)}]" in synopsis


# -- with a Docker engine -------------------------------------------------------------------------------
@pytest.fixture
def docker_server(docker_engine: None) -> Iterator[ServerThread]:
    with ServerThread(Emulator(Settings(runner="docker"))) as running:
        yield running


@pytest.mark.docker
@pytest.mark.slow
def test_the_boto3_snippet_runs_its_job_on_the_docker_runner_offline(docker_server: ServerThread) -> None:
    snippet = boto3_snippet(docker_server.endpoint)
    result = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    batch = make_client(docker_server.endpoint)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        jobs = batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["hello"]}])
        statuses = [job["status"] for job in jobs["jobSummaryList"]]
        if statuses and statuses[0] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.3)
    job = batch.describe_jobs(jobs=[jobs["jobSummaryList"][0]["jobId"]])["jobs"][0]
    assert (job["status"], job["container"].get("exitCode")) == ("SUCCEEDED", 0), job.get("statusReason")


@pytest.mark.docker
def test_the_sidecar_build_context_leaves_out_virtualenvs_and_caches(
    docker_engine: None, tmp_path: Path
) -> None:
    shutil.copy2(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    (tmp_path / "Dockerfile").write_text("FROM batchemu-test/busybox:latest\nCOPY . /ctx\n")
    left_out = [".venv/lib/big", ".mypy_cache/x", ".hypothesis/x", ".state/x", ".cache/clients/x"]
    left_out += [".pytest_cache/x", ".ruff_cache/x", "batchemu/__pycache__/x.pyc", ".git/objects/x"]
    for name in [*left_out, "batchemu/kept.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * 1000)
    tag = f"batchemu-test/context-check:{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, str(tmp_path)], check=True, capture_output=True, timeout=300
    )
    try:
        found = subprocess.run(
            ["docker", "run", "--rm", tag, "find", "/ctx", "-type", "f"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()
    finally:
        subprocess.run(["docker", "image", "rm", tag], capture_output=True, timeout=60)
    assert sorted(found) == ["/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/batchemu/kept.py"]


# -- the newcomer's machine: stock Debian 12 in a container ---------------------------------------------
def pip_settings() -> tuple[dict[str, str], list[str]]:
    """This machine's pip settings (config files and PIP_* variables: an index mirror, a timeout) as PIP_*
    variables for the container, with this machine's CA bundle mounted and trusted (a TLS-intercepting
    proxy). Settings naming local paths (find-links, constraints, file:// indexes) stay out: a newcomer's
    machine has none of them, and pip must get everything from the index."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    variables: dict[str, str] = {}
    for key, _, value in (line.partition("=") for line in listed):
        if "." in key and value:
            variables["PIP_" + key.split(".", 1)[1].upper().replace("-", "_")] = value.strip("'\"")
    variables.update({name: value for name, value in os.environ.items() if name.startswith("PIP_")})
    kept = {}
    for name, value in variables.items():
        remote = [token for token in value.split() if not token.startswith(("/", "file:", "."))]
        if remote:
            kept[name] = " ".join(remote)
    kept.pop("PIP_CERT", None)
    if not CA_BUNDLE.exists():
        return kept, []
    kept["PIP_CERT"] = str(CA_BUNDLE)
    return kept, ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]


def copy_checkout(target: Path) -> None:
    """What a clone has: the tracked files (and new ones not ignored), none of this checkout's .venv or caches."""
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for name in names:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    for path in [target, *target.rglob("*")]:
        os.chown(path, 1000, 1000)  # the newcomer is not root


@pytest.fixture
def newcomer(docker_engine: None, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A stock Debian 12 container, as user 1000 in a copy of this checkout, that has run README's
    install+serve line (on a free port: BATCHEMU_PORT, which README's command leaves to the environment)."""
    subprocess.run([str(ROOT / "scripts" / "build-test-images"), "--stock"], check=True, timeout=900)
    checkout = tmp_path / "batchemu"
    checkout.mkdir()
    copy_checkout(checkout)
    variables, mounts = pip_settings()
    port = free_port()
    name = f"batchemu-newcomer-{uuid.uuid4().hex[:8]}"
    command = ["docker", "run", "-d", "--name", name, "--network", "host", "--user", "1000:1000"]
    command += [
        "-e",
        "HOME=/tmp",
        "-e",
        f"BATCHEMU_PORT={port}",
        *mounts,
        "-v",
        f"{checkout}:/src",
        "-w",
        "/src",
    ]
    command += [option for key, value in variables.items() for option in ("-e", f"{key}={value}")]
    subprocess.run(
        [*command, STOCK_IMAGE, "bash", "-c", install_and_serve()], check=True, capture_output=True
    )
    try:
        yield name, port
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def in_container(name: str, script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "exec", "-w", "/src", name, "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readmes_commands_work_as_written_on_a_stock_debian_12(newcomer: tuple[str, int]) -> None:
    name, port = newcomer
    # stock: no `python`, and Debian's python3 refuses pip installs outside a virtualenv (PEP 668)
    stock = in_container(name, "command -v python; ls /usr/lib/python3*/EXTERNALLY-MANAGED")
    assert stock.stdout.strip().endswith("EXTERNALLY-MANAGED") and "bin/python\n" not in stock.stdout
    endpoint = f"http://127.0.0.1:{port}"
    ready = f"ready on {endpoint} (runner: simulated); dashboard: {endpoint}/_batchemu/ui"
    deadline = time.monotonic() + 400
    logs = subprocess.CompletedProcess[str]([], 0, "", "")
    while time.monotonic() < deadline:
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60)
        running = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True
        ).stdout.strip()
        if ready in logs.stdout or running != "true":
            break
        time.sleep(1)
    assert ready in logs.stdout, (logs.stdout + logs.stderr)[-4000:]
    # README's boto3 snippet, with the virtualenv's python inside the container
    snippet = in_container(name, f".venv/bin/python - <<'EOF'\n{boto3_snippet(endpoint)}\nEOF", timeout=120)
    assert snippet.returncode == 0, snippet.stderr[-3000:]
    assert snippet.stdout.strip() in ("SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED")
    # README's test command in a new shell: every test module imports with what the install gave...
    collected = in_container(name, f"{the_test_command()} --collect-only -q -p no:cacheprovider")
    assert collected.returncode == 0, (collected.stdout + collected.stderr)[-4000:]
    assert re.search(r"^\d{3,} tests collected", collected.stdout, flags=re.MULTILINE), collected.stdout[
        -2000:
    ]
    # ...and a quick subset runs there and passes (serve in subprocesses, the quickstart example)
    ran = in_container(name, f"{the_test_command()} tests/e2e/test_cli.py -q -p no:cacheprovider")
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-4000:]
    assert re.search(r"\d+ passed", ran.stdout), ran.stdout[-2000:]
