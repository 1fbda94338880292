#!/usr/bin/env python
"""Benchmarks (not tests) of batchemu, one JSON line per sub-benchmark, each with its targets and whether
they were met (issue 7). The machine may be shared: figures are medians, comparisons run in the same run.

    python scripts/bench.py                      # api scale array startup (+ docker when an engine answers)
    python scripts/bench.py api scale array docker startup
    python scripts/bench.py profile              # cProfile of the SubmitJob / DescribeJobs(100) server paths

- api: SubmitJob calls/s (sequential, through boto3) and DescribeJobs(100 ids) ms against a
  `batchemu serve --runner simulated` subprocess and, in the same run and with the same client config,
  against `python -m moto.server` (its Batch set to use_docker=false so jobs are not executed); plus
  batchemu's server-side time per request, parsed from the server's per-request log lines.
- scale: SubmitJob / DescribeJobs(100) / ListJobs (first page of 100 SUCCEEDED) latency with 1k, 10k and
  100k finished jobs stored (filled in-process through the handlers), each count in a fresh process; RSS
  per stored job.
- array: one 10,000-child array on the simulated runner, submit to parent SUCCEEDED.
- docker: delegates to scripts/bench_docker.py (emulated trivial job vs raw `docker run --rm`).
- startup: `batchemu serve --runner simulated` from Popen to the first 200 from /_batchemu/health.
- backlog (not in the default set; minutes): scripts/bench_backlog.py - SubmitJob/DescribeJobs/ListJobs
  with 0 vs 20,000 RUNNABLE jobs waiting, ten 10,000-child arrays on maxvCpus 256, and SubmitJob vs moto
  in three scenarios and with 16 concurrent clients. `--backlog-parts backlog arrays moto` picks parts.
- typical (not in the default set; a few minutes): scripts/bench_typical.py - a generated file of 50 typical
  Batch tests (MANAGED compute environment and job queue waited VALID, a job definition, one job polled to
  SUCCEEDED every 10 ms) run by pytest with batchemu's `batch_client` fixture and with moto's `mock_aws`,
  side by side, `--typical-rounds` times: totals, first test, median of the others.
- swarm (named only; needs root): delegates to scripts/bench_swarm.py, 60 one-second jobs on a 1-node vs a
  3-node local swarm (scripts/local-swarm), the same vCPUs per node.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_backlog  # noqa: E402  (scripts/ is on sys.path, as above)
import bench_scheduler  # noqa: E402  (the array benchmark and the in-process store filler)
from bench_api import client  # noqa: E402
from bench_common import (  # noqa: E402
    free_port,
    http_status,
    process,
    serve_command,
    setup_side,
    wait_until_answers,
)

ALL = ("api", "scale", "array", "docker", "startup")
EXTRA = ("profile", "backlog", "swarm", "typical")
SERVER_LINE = re.compile(r"batchemu\.server: (\w+) (\S+) (\d{3}) ([0-9.]+)ms")
TARGETS = {
    "api": {
        "submit_rate_vs_moto_min_ratio": 2.0,
        "server_submit_ms_median_max": 0.5,
        "server_describe100_ms_median_max": 5.0,
    },
    "scale": {"flat_max_ratio_100k_vs_1k": 1.2, "rss_bytes_per_finished_job_max": 4096},
    "array": {"submit_to_parent_succeeded_s_max": 3.0},
    "docker": {"emulated_vs_raw_docker_run_max_ratio": 1.3},
    "startup": {"serve_to_healthy_s_median_max": 1.5},
}


# -- helpers -------------------------------------------------------------------------------------
def median(values: list[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits)


def machine() -> dict:
    return {"nproc": os.cpu_count(), "python": sys.version.split()[0], "arch": os.uname().machine}


def emit(line: dict) -> None:
    print(json.dumps(line), flush=True)


# -- api -----------------------------------------------------------------------------------------
def bench_api_side_by_side(jobs: int, describe_calls: int, rounds: int) -> dict:
    """Both servers up at once; submits alternate in `rounds` blocks so drift on the machine weighs on
    both alike."""
    load_before = [round(value, 2) for value in os.getloadavg()]
    tmp = Path(tempfile.mkdtemp(prefix="batchemu-bench-"))
    ours_port, moto_port = free_port(), free_port()
    ours_log = tmp / "batchemu.stderr"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with contextlib.ExitStack() as stack:
        pids = {"batchemu": stack.enter_context(process(serve_command(ours_port, "INFO"), ours_log, env)).pid}
        moto_command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)]
        pids["moto"] = stack.enter_context(process(moto_command, tmp / "moto.stderr", env)).pid
        wait_until_answers(ours_port, "/_batchemu/health")
        wait_until_answers(moto_port, "/moto-api/data.json")
        # moto's Batch runs each job in a thread with Docker unless told otherwise; batch_simple marks
        # jobs SUCCEEDED synchronously instead (no thread, no container).
        config = json.dumps({"batch": {"use_docker": False}}).encode()
        assert http_status(moto_port, "POST", "/moto-api/config", config) in (200, 201)
        sides = {}
        for name, port in (("batchemu", ours_port), ("moto", moto_port)):
            batch = client(f"http://127.0.0.1:{port}")
            queue, definition = setup_side(f"http://127.0.0.1:{port}", batch, uuid.uuid4().hex[:8])
            for index in range(20):  # warm-up: first-use imports and connection set-up
                batch.submit_job(jobName=f"warm-{index}", jobQueue=queue, jobDefinition=definition)
            sides[name] = {
                "batch": batch,
                "queue": queue,
                "definition": definition,
                "ids": [],
                "seconds": 0.0,
                "describe_ms": [],
            }
        # The floor: the same client against a server with no emulator behind it (canned bodies; the
        # DescribeJobs body is batchemu's own answer for 100 jobs).
        ours = sides["batchemu"]
        for index in range(100):
            ours["ids"].append(
                ours["batch"].submit_job(
                    jobName=f"pre-{index}", jobQueue=ours["queue"], jobDefinition=ours["definition"]
                )["jobId"]
            )
        canned = tmp / "describe100.json"
        canned.write_bytes(raw_post(ours_port, "/v1/describejobs", {"jobs": ours["ids"][:100]}))
        stub_port = free_port()
        pids["floor"] = stack.enter_context(
            process(
                [sys.executable, __file__, "_stub", str(stub_port), str(canned)], tmp / "stub.stderr", env
            )
        ).pid
        wait_until_answers(stub_port, "/health")
        sides["floor"] = {
            "batch": client(f"http://127.0.0.1:{stub_port}"),
            "queue": "q",
            "definition": "jd",
            "ids": list(ours["ids"]),
            "seconds": 0.0,
            "describe_ms": [],
        }
        cpu_seconds = dict.fromkeys(sides, 0.0)  # each server's CPU (all threads) during its timed blocks
        for _ in range(20):
            sides["floor"]["batch"].submit_job(jobName="warm", jobQueue="q", jobDefinition="jd")
        block = jobs // rounds
        for round_index in range(rounds):
            for side_name, side in sides.items():
                batch, queue, definition = side["batch"], side["queue"], side["definition"]
                cpu_before = process_cpu_seconds(pids[side_name])
                began = time.perf_counter()
                for index in range(block):
                    name = f"bench-{round_index}-{index}"
                    side["ids"].append(
                        batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition)["jobId"]
                    )
                side["seconds"] += time.perf_counter() - began
                cpu_seconds[side_name] += process_cpu_seconds(pids[side_name]) - cpu_before
        for call in range(describe_calls):
            for side in sides.values():
                ids = side["ids"]
                chunk = [ids[(call * 100 + i) % len(ids)] for i in range(100)]
                began = time.perf_counter()
                described = side["batch"].describe_jobs(jobs=chunk)["jobs"]
                side["describe_ms"].append((time.perf_counter() - began) * 1000)
                assert len(described) == 100, f"{len(described)} jobs described"
        moto_statuses: dict[str, int] = {}
        for job in sides["moto"]["batch"].describe_jobs(jobs=sides["moto"]["ids"][:100])["jobs"]:
            moto_statuses[job["status"]] = moto_statuses.get(job["status"], 0) + 1
        moto_threads = _thread_count(sides["moto"]["batch"], moto_port)
    server_ms: dict[str, list[float]] = {}
    for line in ours_log.read_text(errors="replace").splitlines():
        found = SERVER_LINE.search(line)
        if found:
            server_ms.setdefault(found.group(1), []).append(float(found.group(4)))
    submitted = block * rounds
    rates = {name: submitted / side["seconds"] for name, side in sides.items()}
    describe = {name: statistics.median(side["describe_ms"]) for name, side in sides.items()}
    submitted = block * rounds
    # The timed calls are the last ones logged (warm-up and set-up calls come first).
    server_submit = server_ms.get("SubmitJob", [])[-submitted:]
    server_describe = server_ms.get("DescribeJobs", [])[-describe_calls:]
    ratio = rates["batchemu"] / rates["moto"]
    targets = TARGETS["api"]
    floor_ms = 1000 / rates["floor"]
    result = {
        "benchmark": "api",
        "submit_jobs": submitted,
        "describe_calls": describe_calls,
        "batchemu_submit_calls_per_s": round(rates["batchemu"], 1),
        "moto_submit_calls_per_s": round(rates["moto"], 1),
        "submit_rate_ratio_batchemu_vs_moto": round(ratio, 2),
        "batchemu_describe100_ms_median": round(describe["batchemu"], 2),
        "moto_describe100_ms_median": round(describe["moto"], 2),
        "describe100_ratio_batchemu_vs_moto": round(describe["batchemu"] / describe["moto"], 2),
        "floor_submit_calls_per_s": round(rates["floor"], 1),
        "floor_describe100_ms_median": round(describe["floor"], 2),
        "floor_note": "same client against werkzeug's threaded server with batchemu's keep-alive handler answering canned bodies: client + HTTP cost",
        "submit_ms_above_floor": {
            name: round(1000 / rates[name] - floor_ms, 3) for name in ("batchemu", "moto")
        },
        "max_reachable_submit_ratio_vs_moto": round(rates["floor"] / rates["moto"], 2),
        "submit_ratio_batchemu_vs_floor": round(rates["batchemu"] / rates["floor"], 3),
        "server_cpu_ms_per_submit": {  # /proc utime+stime over the timed blocks / calls
            name: round(seconds * 1000 / (block * rounds), 3) for name, seconds in cpu_seconds.items()
        },
        "load_average_before": load_before,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "server_submit_ms_median": median(server_submit) if server_submit else None,
        "server_submit_ms_p90": round(sorted(server_submit)[int(len(server_submit) * 0.9)], 3)
        if server_submit
        else None,
        "server_describe100_ms_median": median(server_describe) if server_describe else None,
        "server_log_lines": {name: len(values) for name, values in server_ms.items()},
        "moto_mode": "batch use_docker=false (batch_simple: jobs marked SUCCEEDED inside SubmitJob)",
        "moto_job_statuses_first_100": moto_statuses,
        "moto_threads_after": moto_threads,
        "targets": targets,
    }
    result["met"] = {
        "submit_rate_vs_moto": ratio >= targets["submit_rate_vs_moto_min_ratio"],
        "server_submit_ms": bool(server_submit)
        and statistics.median(server_submit) < targets["server_submit_ms_median_max"],
        "server_describe100_ms": bool(server_describe)
        and statistics.median(server_describe) < targets["server_describe100_ms_median_max"],
    }
    return result


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc; 0 where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_stub(port: int, describe_body: Path) -> None:
    """The floor: werkzeug's threaded server (as batchemu and moto use) answering canned bodies, so the
    client + HTTP cost of a call is measured with no emulator behind it."""
    from werkzeug.serving import make_server

    submit = json.dumps(
        {"jobArn": "arn:aws:batch:us-east-1:123456789012:job/x", "jobName": "x", "jobId": "x"}
    ).encode()
    describe = describe_body.read_bytes()

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        body = describe if environ["PATH_INFO"].endswith("describejobs") else submit
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    # With batchemu's keep-alive handler, as batchemu serves: the floor is the client and HTTP on a kept
    # connection (without it, each call also paid a TCP connect and a new server thread).
    from batchemu.keepalive import KeepAliveRequestHandler

    make_server(
        "127.0.0.1", port, app, threaded=True, request_handler=KeepAliveRequestHandler
    ).serve_forever()


def raw_post(port: int, path: str, body: dict) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        return connection.getresponse().read()
    finally:
        connection.close()


def _thread_count(batch, port: int) -> int | None:  # type: ignore[no-untyped-def]
    """Threads of the moto server process (from /proc), to see whether its jobs started any."""
    for pid in _pids_listening(port):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    return None


def _pids_listening(port: int) -> list[int]:
    """The children of this process (the moto and batchemu servers); the one whose cmdline names `port`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().split()
            if int(stat[3]) == os.getpid() and str(port).encode() in cmdline:
                pids.append(int(entry.name))
    return pids


# -- scale ---------------------------------------------------------------------------------------
def vm_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class ServerTimes(logging.Handler):
    """Collects the server's per-request milliseconds from its log records (in-process)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.ms: dict[str, list[float]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "%s %s %d %.2fms":
            operation, _path, _status, ms = record.args  # type: ignore[misc]
            self.ms.setdefault(operation, []).append(float(ms))


def scale_one(count: int, samples: int) -> dict:
    """In a fresh process: set up and fill `count` finished jobs in-process (handlers and scheduler steps,
    before the server binds, so the fill renders no EventBridge events and ships no logs), then serve and
    time the three calls through boto3 (client side) and from the server's log records (server side)."""
    from werkzeug.test import Client

    from batchemu import Emulator, ServerThread
    from batchemu.config import Settings
    from batchemu.server import create_app

    logging.getLogger("batchemu").setLevel(logging.WARNING)  # no per-transition lines
    server_log = logging.getLogger("batchemu.server")
    times = ServerTimes()
    server_log.addHandler(times)
    server_log.setLevel(logging.INFO)
    server_log.propagate = False
    emulator = Emulator(Settings(runner="simulated"))
    unbound = Client(create_app(emulator))
    for path, body in (
        (
            "/v1/createcomputeenvironment",
            {"computeEnvironmentName": "ce", "type": "MANAGED", "computeResources": bench_scheduler.COMPUTE},
        ),
        (
            "/v1/createjobqueue",
            {
                "jobQueueName": "q",
                "priority": 1,
                "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ce"}],
            },
        ),
        (
            "/v1/registerjobdefinition",
            {
                "jobDefinitionName": "jd",
                "type": "container",
                "containerProperties": bench_scheduler.CONTAINER,
            },
        ),
    ):
        assert unbound.post(path, json=body).status_code == 200
        emulator.run_until_idle()
    gc.collect()
    rss_before = vm_rss_bytes()
    fill_began = time.perf_counter()
    bench_scheduler.store_jobs(emulator, count)
    fill_s = time.perf_counter() - fill_began
    gc.collect()
    rss_after = vm_rss_bytes()
    statuses: dict[str, int] = {}
    for backend in emulator.store.backends():
        for job in backend.jobs.values():
            statuses[job.status] = statuses.get(job.status, 0) + 1
    with ServerThread(emulator) as server:
        batch = client(server.endpoint)
        for index in range(20):  # warm-up
            batch.submit_job(jobName=f"warm-{index}", jobQueue="q", jobDefinition="jd")
        times.ms.clear()
        client_ms: dict[str, list[float]] = {"SubmitJob": [], "DescribeJobs": [], "ListJobs": []}
        ids = []
        for index in range(samples):
            began = time.perf_counter()
            ids.append(batch.submit_job(jobName=f"s{index}", jobQueue="q", jobDefinition="jd")["jobId"])
            client_ms["SubmitJob"].append((time.perf_counter() - began) * 1000)
        stored_ids = list(emulator.store.backend("123456789012", "us-east-1").jobs)[:: max(1, count // 100)][
            :100
        ]
        for _ in range(max(samples // 4, 20)):
            began = time.perf_counter()
            assert len(batch.describe_jobs(jobs=stored_ids)["jobs"]) == 100
            client_ms["DescribeJobs"].append((time.perf_counter() - began) * 1000)
        for _ in range(max(samples // 10, 10)):
            began = time.perf_counter()
            page = batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED", maxResults=100)
            client_ms["ListJobs"].append((time.perf_counter() - began) * 1000)
            assert len(page["jobSummaryList"]) == 100
        server_ms = {op: median(values) for op, values in times.ms.items() if op in client_ms}
        emulator.outbox = type(emulator.outbox)()  # leave the events of the timed calls unsent: exit promptly
    return {
        "stored": count,
        "statuses": statuses,
        "fill_s": round(fill_s, 2),
        "rss_bytes_per_job": round((rss_after - rss_before) / count),
        "client_ms": {op: median(values) for op, values in client_ms.items()},
        "server_ms": server_ms,
    }


def bench_scale(stored: list[int], samples: int) -> dict:
    runs = {}
    for count in stored:
        output = subprocess.run(
            [sys.executable, __file__, "_scale_one", str(count), "--samples", str(samples)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs[count] = json.loads(output.strip().splitlines()[-1])
    first, last = stored[0], stored[-1]
    targets = TARGETS["scale"]
    result: dict = {"benchmark": "scale", "samples": samples}
    for side in ("server_ms", "client_ms"):
        result[side] = {
            op: {str(count): runs[count][side].get(op) for count in stored}
            for op in ("SubmitJob", "DescribeJobs", "ListJobs")
        }
    ratios = {
        side: {
            op: round(runs[last][side][op] / runs[first][side][op], 2)
            for op in ("SubmitJob", "DescribeJobs", "ListJobs")
        }
        for side in ("server_ms", "client_ms")
    }
    result[f"ratio_{last}_vs_{first}"] = ratios
    result["rss_bytes_per_job"] = {str(count): runs[count]["rss_bytes_per_job"] for count in stored}
    result["fill_s"] = {str(count): runs[count]["fill_s"] for count in stored}
    result["statuses_stored"] = {str(count): runs[count]["statuses"] for count in stored}
    result["targets"] = targets
    flat = targets["flat_max_ratio_100k_vs_1k"]
    result["met"] = {
        **{
            f"flat_{op}_server": ratios["server_ms"][op] <= flat
            for op in ("SubmitJob", "DescribeJobs", "ListJobs")
        },
        **{
            f"flat_{op}_client": ratios["client_ms"][op] <= flat
            for op in ("SubmitJob", "DescribeJobs", "ListJobs")
        },
        "rss_per_finished_job": runs[last]["rss_bytes_per_job"] <= targets["rss_bytes_per_finished_job_max"],
    }
    return result


# -- array ---------------------------------------------------------------------------------------
def bench_array(size: int, full_teardown: bool) -> dict:
    """bench_scheduler's array benchmark, plus what is left for the outbox (EventBridge events) when the
    parent is done, and the teardown time (without sending that backlog unless `full_teardown`)."""
    from batchemu import Emulator, ServerThread
    from batchemu.config import Settings

    logging.getLogger("batchemu").setLevel(logging.WARNING)
    server = ServerThread(Emulator(Settings(runner="simulated", tick_interval=0.01))).start()
    batch = bench_scheduler.client(server.endpoint)
    bench_scheduler.setup(batch)
    time.sleep(0.2)  # let the compute environment and queue become VALID
    began = time.perf_counter()
    job_id = batch.submit_job(
        jobName="array", jobQueue="q", jobDefinition="jd", arrayProperties={"size": size}
    )["jobId"]
    status = bench_scheduler.wait_for(batch, job_id)
    seconds = time.perf_counter() - began
    outbox = server.emulator.outbox
    pending = outbox._tasks.qsize()
    if not full_teardown:
        server.emulator.outbox = type(outbox)()
        outbox._tasks.put(None)  # its worker ends after the task in hand
    began = time.perf_counter()
    server.stop()
    teardown = time.perf_counter() - began
    target = TARGETS["array"]["submit_to_parent_succeeded_s_max"]
    return {
        "benchmark": "array",
        "size": size,
        "status": status,
        "submit_to_parent_done_s": round(seconds, 2),
        "outbox_tasks_pending_at_done": pending,
        "teardown_s": round(teardown, 2),
        "teardown_sent_backlog": full_teardown,
        "targets": TARGETS["array"],
        "met": {"submit_to_parent_succeeded": status == "SUCCEEDED" and seconds < target},
    }


# -- docker --------------------------------------------------------------------------------------
def bench_docker(extra: list[str]) -> dict:
    script = HERE / "bench_docker.py"
    base = {"benchmark": "docker", "targets": TARGETS["docker"]}
    if not script.exists():
        return {**base, "skipped": "scripts/bench_docker.py does not exist"}
    done = subprocess.run([sys.executable, str(script), *extra], capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {
            **base,
            "skipped": f"scripts/bench_docker.py exited {done.returncode}",
            "stderr_tail": done.stderr[-800:],
        }
    measured = json.loads(lines[-1])
    result = {**base, **measured, "targets": TARGETS["docker"]}
    result["met"] = {
        "emulated_vs_raw_docker_run": measured.get("ratio", 99)
        <= TARGETS["docker"]["emulated_vs_raw_docker_run_max_ratio"]
    }
    return result


def bench_swarm(extra: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, str(HERE / "bench_swarm.py"), *extra], capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {
            "benchmark": "swarm",
            "skipped": f"scripts/bench_swarm.py exited {done.returncode}",
            "stderr_tail": done.stderr[-800:],
        }
    return dict(json.loads(lines[-1]))


def docker_answers() -> bool:
    from batchemu.emulator import docker_engine_answers

    return docker_engine_answers()


# -- startup -------------------------------------------------------------------------------------
def bench_startup(runs: int) -> dict:
    seconds = []
    with tempfile.TemporaryDirectory(prefix="batchemu-bench-") as tmp:
        for run in range(runs):
            port = free_port()
            began = time.perf_counter()
            with process(serve_command(port, "WARNING"), Path(tmp) / f"serve-{run}.stderr"):
                wait_until_answers(port, "/_batchemu/health", interval_s=0.005)
                seconds.append(time.perf_counter() - began)
    target = TARGETS["startup"]["serve_to_healthy_s_median_max"]
    return {
        "benchmark": "startup",
        "command": "python -m batchemu serve --runner simulated --port <free> --log-level WARNING",
        "runs": runs,
        "serve_to_healthy_s_median": median(seconds),
        "serve_to_healthy_s_all": [round(value, 3) for value in seconds],
        "targets": TARGETS["startup"],
        "met": {"serve_to_healthy": statistics.median(seconds) < target},
    }


# -- profile (not in the default set) ------------------------------------------------------------
def bench_profile(calls: int, top: int) -> dict:
    """The server paths without the network: the WSGI app through werkzeug's test Client, under cProfile.
    Writes /tmp/bench_submit.prof and /tmp/bench_describe.prof; the top functions go to stderr."""
    import cProfile
    import io
    import pstats

    from werkzeug.test import Client

    from batchemu import Emulator
    from batchemu.config import Settings
    from batchemu.server import create_app

    logging.getLogger("batchemu").setLevel(logging.WARNING)
    emulator = Emulator(Settings(runner="simulated"))  # the scheduler loop is not started: server cost only
    app = Client(create_app(emulator))
    headers = {"Content-Type": "application/json"}

    def post(path: str, body: dict) -> dict:
        response = app.post(path, data=json.dumps(body), headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return json.loads(response.get_data())

    post(
        "/v1/createcomputeenvironment",
        {"computeEnvironmentName": "ce", "type": "MANAGED", "computeResources": bench_scheduler.COMPUTE},
    )
    emulator.run_until_idle()
    post(
        "/v1/createjobqueue",
        {
            "jobQueueName": "q",
            "priority": 1,
            "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ce"}],
        },
    )
    post(
        "/v1/registerjobdefinition",
        {"jobDefinitionName": "jd", "type": "container", "containerProperties": bench_scheduler.CONTAINER},
    )
    emulator.run_until_idle()
    submit = {"jobName": "p", "jobQueue": "q", "jobDefinition": "jd"}
    for _ in range(20):
        post("/v1/submitjob", submit)
    result: dict = {"benchmark": "profile", "calls": calls}
    ids: list[str] = []
    for name, run in (
        ("submit", lambda: ids.append(post("/v1/submitjob", submit)["jobId"])),
        ("describe100", lambda: post("/v1/describejobs", {"jobs": ids[:100]})),
    ):
        count = calls if name == "submit" else max(calls // 5, 50)
        profile = cProfile.Profile()
        began = time.perf_counter()
        profile.enable()
        for _ in range(count):
            run()
        profile.disable()
        elapsed = time.perf_counter() - began
        if name == "submit":
            emulator.run_until_idle()  # the described jobs are finished ones, as in a test that polls
        path = f"/tmp/bench_{name}.prof"
        profile.dump_stats(path)
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text)
        stats.sort_stats("tottime").print_stats(top)
        print(
            f"== {name}: {count} calls, {elapsed * 1000 / count:.3f} ms/call under cProfile (by tottime) ==",
            file=sys.stderr,
        )
        print(text.getvalue(), file=sys.stderr)
        rows = []
        entries = [
            item
            for item in stats.stats.items()  # type: ignore[attr-defined]
            if not item[0][0].endswith(("werkzeug/test.py", "bench.py")) and item[0][2] != "<lambda>"
        ]
        for (filename, line, function), (_cc, ncalls, tottime, cumtime, _callers) in sorted(
            entries, key=lambda item: item[1][3], reverse=True
        )[:top]:
            short = filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1].split("python3.11/")[-1]
            rows.append(
                {
                    "function": f"{short}:{line}({function})",
                    "ncalls": ncalls,
                    "tottime_ms_per_call": round(tottime * 1000 / count, 4),
                    "cumtime_ms_per_call": round(cumtime * 1000 / count, 4),
                }
            )
        result[name] = {
            "calls": count,
            "ms_per_call_profiled": round(elapsed * 1000 / count, 3),
            "profile": path,
            "top_cumulative": rows,
        }
    # And the same paths without the profiler, for the unprofiled in-process cost.
    for name, path, body in (
        ("submit", "/v1/submitjob", submit),
        ("describe100", "/v1/describejobs", {"jobs": ids[:100]}),
    ):
        samples = []
        for _ in range(200):
            began = time.perf_counter()
            post(path, body)
            samples.append((time.perf_counter() - began) * 1000)
        result[name]["ms_per_call_unprofiled_median"] = median(samples)
    return result


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "benchmarks",
        nargs="*",
        help=f"any of {', '.join(ALL + EXTRA)} (default: all; docker only when an engine answers)",
    )
    parser.add_argument("--jobs", type=int, default=1000, help="api: sequential SubmitJob calls per server")
    parser.add_argument(
        "--describe-calls", type=int, default=50, help="api: DescribeJobs(100) calls per server"
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="api: alternating blocks the submits are split in"
    )
    parser.add_argument(
        "--stored", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="scale: stored job counts"
    )
    parser.add_argument("--samples", type=int, default=200, help="scale: SubmitJob samples per count")
    parser.add_argument("--array-size", type=int, default=10_000)
    parser.add_argument(
        "--array-full-teardown",
        action="store_true",
        help="array: let stop() send the EventBridge backlog (minutes)",
    )
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument(
        "--docker-args", default="", help="docker: arguments passed to scripts/bench_docker.py"
    )
    parser.add_argument("--profile-calls", type=int, default=1000)
    parser.add_argument(
        "--backlog-parts",
        nargs="+",
        default=["backlog", "arrays", "moto"],
        help="backlog: parts to run (backlog, arrays, moto)",
    )
    parser.add_argument("--backlog-waiting", type=int, default=20_000, help="backlog: RUNNABLE jobs waiting")
    parser.add_argument(
        "--backlog-jobs", type=int, default=1000, help="backlog: timed SubmitJob calls per side"
    )
    parser.add_argument("--backlog-arrays", type=int, default=10, help="backlog: array jobs submitted")
    parser.add_argument(
        "--backlog-log-level",
        default="INFO",
        help="backlog: the servers' --log-level (backlog and moto parts)",
    )
    parser.add_argument("--swarm-args", default="", help="swarm: arguments passed to scripts/bench_swarm.py")
    parser.add_argument("--typical-tests", type=int, default=50, help="typical: tests in the generated file")
    parser.add_argument("--typical-rounds", type=int, default=3, help="typical: runs of each side")
    args = parser.parse_args()
    if args.benchmarks[:1] == ["_stub"]:  # the floor server of `api`
        serve_stub(int(args.benchmarks[1]), Path(args.benchmarks[2]))
        return
    if args.benchmarks[:1] == ["_scale_one"]:  # the child of `scale`
        emit(scale_one(int(args.benchmarks[1]), args.samples))
        return
    unknown = set(args.benchmarks) - set(ALL + EXTRA)
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(ALL + EXTRA)}"
        )
    chosen = args.benchmarks or [name for name in ALL if name != "docker" or docker_answers()]
    if not args.benchmarks and "docker" not in chosen:
        emit(
            {
                "benchmark": "docker",
                "skipped": "no Docker engine answers (name `docker` to start one and run it)",
            }
        )
    for name in ALL + EXTRA:
        if name not in chosen:
            continue
        began = time.perf_counter()
        if name == "api":
            line = bench_api_side_by_side(args.jobs, args.describe_calls, args.rounds)
        elif name == "scale":
            line = bench_scale(args.stored, args.samples)
        elif name == "array":
            line = bench_array(args.array_size, args.array_full_teardown)
        elif name == "docker":
            line = bench_docker(args.docker_args.split())
        elif name == "startup":
            line = bench_startup(args.startup_runs)
        elif name == "backlog":
            line = bench_backlog.bench_backlog(
                args.backlog_parts,
                args.backlog_waiting,
                args.backlog_jobs,
                args.rounds,
                args.backlog_arrays,
                args.array_size,
                args.backlog_log_level,
            )
        elif name == "swarm":
            line = bench_swarm(args.swarm_args.split())
        elif name == "profile":
            line = bench_profile(args.profile_calls, 15)
        elif name == "typical":
            import bench_typical

            line = bench_typical.bench_typical(args.typical_tests, args.typical_rounds)
        line["machine"] = machine()
        line["bench_wall_s"] = round(time.perf_counter() - began, 1)
        emit(line)


if __name__ == "__main__":
    main()
