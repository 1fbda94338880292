"""Seed and snapshot: the whole state of an emulator (Batch's resources, jobs and instances, and every moto
service it serves) as one file, the state store's own SQLite format, and that file put back in place of
the current state. A snapshot names the moto version that wrote it; another version's services are set
aside on import with a warning (Batch's part loads)."""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

from batchemu.clock import to_millis
from batchemu.moto_saver import MotoSaver
from batchemu.persistence import FILE_NAME, StateDir, Unusable, check_file

if TYPE_CHECKING:
    from batchemu.emulator import Emulator


def export_state(emulator: Emulator) -> bytes:
    """The emulator's state as the bytes of a state file."""
    with tempfile.TemporaryDirectory(prefix="batchemu-export-") as directory:
        snapshot = StateDir(directory)
        try:
            snapshot.save_all(emulator.store, emulator.scheduler.placer.fleets)
            if not emulator.settings.aws_endpoint:
                MotoSaver(snapshot).save_everything()
        finally:
            snapshot.close()  # the last connection folds the WAL into the file
        with open(os.path.join(directory, FILE_NAME), "rb") as file:
            return file.read()


def import_state(emulator: Emulator, data: bytes) -> None:
    """Replaces the emulator's state (and moto's) by a snapshot's; raises Unusable for a file that is not
    one. With a state directory, the imported state is written there at once."""
    with tempfile.TemporaryDirectory(prefix="batchemu-import-") as directory:
        path = os.path.join(directory, FILE_NAME)
        with open(path, "wb") as file:
            file.write(data)
        try:
            check_file(path)
        except Unusable as error:
            raise Unusable(f"the snapshot is not a batchemu state file: {error}") from None
        emulator.reset()
        if not emulator.settings.aws_endpoint:
            from moto.core.base_backend import BackendDict

            BackendDict.reset()
        snapshot = StateDir(directory)
        try:
            tracked = emulator.store.tracks_changes
            snapshot.attach(emulator.store, emulator.scheduler.placer.fleets, to_millis(emulator.clock.now()))
            emulator.store.tracks_changes = tracked
            if not emulator.settings.aws_endpoint:
                MotoSaver(snapshot).load()
        finally:
            snapshot.close()
    emulator.after_import()
