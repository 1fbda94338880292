"""Ids from batchemu's seeded generator are what AWS shows, and the server's log line formatter (which
writes each second's date once) writes logging's own line."""

from __future__ import annotations

import logging
import uuid

from batchemu import arns, cli


def test_job_ids_are_lowercase_version_4_uuids() -> None:
    ids = {arns.new_id() for _ in range(5_000)}
    assert len(ids) == 5_000
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


def test_task_ids_are_32_hex_characters() -> None:
    task_id = arns.new_task_id()
    assert len(task_id) == 32 and int(task_id, 16) >= 0


def test_the_servers_log_lines_read_as_loggings_own() -> None:
    ours, standard = cli._Formatter(cli.LOG_FORMAT), logging.Formatter(cli.LOG_FORMAT)
    for created in (1_796_270_960.0, 1_796_270_960.999, 1_796_270_961.0005, 1_796_270_959.5):
        record = logging.LogRecord("batchemu", logging.INFO, "x.py", 1, "job %s", ("a",), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert ours.format(record) == standard.format(record)
