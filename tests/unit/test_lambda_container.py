"""runners/lambda_container.py without Docker: the image chosen per runtime, the environment a function
sees, the deployment package as a tar, and how an ended container becomes a result or Lambda's error."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
import zipfile

import pytest

from batchemu.runners.lambda_container import (
    PYTHON_IMAGE,
    Invocation,
    LambdaContainers,
    _log_lines,
    _outcome,
    zip_to_tar,
)

INVOCATION = Invocation(
    function_name="fn",
    function_arn="arn:aws:lambda:eu-west-1:111122223333:function:fn",
    account="111122223333",
    region="eu-west-1",
    runtime="python3.12",
    handler="index.handler",
    code=b"PK\x05\x06" + bytes(18),  # an empty zip
    event="{}",
    request_id="req-1",
    log_stream="2026/01/01/[$LATEST]abc",
    timeout_seconds=7,
    memory_mib=256,
    environment={"COLOUR": "red", "AWS_ENDPOINT_URL": "http://elsewhere:1"},
)


@pytest.mark.parametrize("runtime", ["python3.8", "python3.12", "python3.13"])
def test_python_runtimes_use_batchemus_image(runtime: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTO_DOCKER_LAMBDA_IMAGE", raising=False)
    assert LambdaContainers("http://e", "s").image_for(runtime) == [PYTHON_IMAGE]


def test_the_users_moto_docker_lambda_image_wins_tagged_or_per_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = LambdaContainers("http://e", "s")
    monkeypatch.setenv("MOTO_DOCKER_LAMBDA_IMAGE", "mine/lambda:v1")
    assert runtime.image_for("python3.12") == ["mine/lambda:v1"]
    monkeypatch.setenv("MOTO_DOCKER_LAMBDA_IMAGE", "mine/lambda")
    assert runtime.image_for("nodejs20.x") == ["mine/lambda:nodejs20.x"]


def test_other_runtimes_try_the_repositories_moto_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTO_DOCKER_LAMBDA_IMAGE", raising=False)
    assert LambdaContainers("http://e", "s").image_for("nodejs20.x") == [
        "ghcr.io/shogo82148/lambda-nodejs:20.x",
        "mlupin/docker-lambda:nodejs20.x",
    ]


def test_the_function_sees_the_job_endpoint_and_credentials_and_its_own_variables_win() -> None:
    environment = LambdaContainers("http://127.0.0.1:4566", "secret-1").environment(INVOCATION)
    assert environment["AWS_ACCESS_KEY_ID"] == "111122223333"
    assert environment["AWS_SECRET_ACCESS_KEY"] == "secret-1"
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environment["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "7"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert (environment["COLOUR"], environment["AWS_ENDPOINT_URL"]) == ("red", "http://elsewhere:1")


def test_the_package_becomes_a_tar_with_its_modes() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pkg/", "")
        entry = zipfile.ZipInfo("pkg/run.sh")
        entry.external_attr = 0o755 << 16
        archive.writestr(entry, "#!/bin/sh\n")
        archive.writestr("index.py", "x = 1\n")
    with tarfile.open(fileobj=io.BytesIO(zip_to_tar(buffer.getvalue()))) as archive:
        members = {member.name: member for member in archive.getmembers()}
        assert members["pkg"].isdir()
        assert members["pkg/run.sh"].mode == 0o755
        assert archive.extractfile("index.py").read() == b"x = 1\n"  # type: ignore[union-attr]


def logs(*lines: str) -> bytes:
    return "".join(f"2026-01-01T00:00:0{i}.{i}00000000Z {line}\n" for i, line in enumerate(lines)).encode()


def test_exit_zero_answers_the_last_stdout_line_and_logs_the_rest() -> None:
    combined = logs("START RequestId: req-1", "hello", "", '{"ok": 1}')
    outcome = _outcome(INVOCATION, {"ExitCode": 0}, 'hello\n\n{"ok": 1}\n', combined)
    assert (outcome.payload, outcome.failed) == (b'{"ok": 1}', False)
    assert [line.message for line in outcome.lines] == ["START RequestId: req-1", "hello"]
    assert outcome.lines[1].timestamp_ms == 1767225601100


def test_an_error_object_from_the_runtime_is_the_payload() -> None:
    error = json.dumps({"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []})
    outcome = _outcome(INVOCATION, {"ExitCode": 1}, error, logs(error))
    assert (json.loads(outcome.payload)["errorType"], outcome.failed) == ("ValueError", True)


@pytest.mark.parametrize(
    ("state", "error_type", "ending"),
    [
        ({"ExitCode": 137, "OOMKilled": True}, "Runtime.OutOfMemory", "signal: killed"),
        ({"ExitCode": 137}, "Runtime.ExitError", "signal: killed"),
        ({"ExitCode": 2}, "Runtime.ExitError", "exit status 2"),
    ],
)
def test_a_runtime_that_dies_without_an_answer_is_a_runtime_error(
    state: dict[str, object], error_type: str, ending: str
) -> None:
    outcome = _outcome(INVOCATION, state, "partial output", logs("partial output"))
    payload = json.loads(outcome.payload)
    assert outcome.failed and payload["errorType"] == error_type
    assert payload["errorMessage"] == f"RequestId: req-1 Error: Runtime exited with error: {ending}"
    assert outcome.lines[-1].message.startswith(error_type)


def test_log_lines_are_ordered_by_time_across_stdout_and_stderr() -> None:
    combined = b"2026-01-01T00:00:02Z late\n2026-01-01T00:00:01Z early\n"
    assert [line.message for line in _log_lines(combined, None)] == ["early", "late"]


def test_with_no_docker_engine_the_invocation_error_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = LambdaContainers("http://e", "s")

    def no_engine() -> None:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(runtime, "_docker", no_engine)
    outcome = runtime.run(INVOCATION)
    assert outcome.failed
    assert "no Docker engine answers (connection refused)" in json.loads(outcome.payload)["errorMessage"]
    runtime.close()


def test_a_function_without_a_package_fails_saying_only_zip_functions_run() -> None:
    runtime = LambdaContainers("http://e", "s")
    outcome = runtime.run(dataclasses.replace(INVOCATION, code=b""))
    assert outcome.failed
    assert "batchemu runs Zip functions" in json.loads(outcome.payload)["errorMessage"]
    runtime.close()
