"""What a job may ask of the host: privileged mode, host paths, the Docker socket, devices."""

from __future__ import annotations

import pytest

from batchemu.domain.host_access import HostAccessPolicy, check_container
from batchemu.errors import ClientException

DENY = HostAccessPolicy()


def volume(path: str) -> dict:
    return {"volumes": [{"name": "v", "host": {"source_path": path}}]}


def test_an_ordinary_container_is_allowed() -> None:
    check_container({"image": "busybox", "volumes": [{"name": "scratch"}]}, DENY)


def test_privileged_is_refused_by_default_and_names_the_flag() -> None:
    with pytest.raises(ClientException, match="--allow-privileged"):
        check_container({"privileged": True}, DENY)


def test_privileged_is_allowed_with_the_flag() -> None:
    check_container({"privileged": True}, HostAccessPolicy(allow_privileged=True))


def test_host_path_outside_the_allow_list_is_refused() -> None:
    with pytest.raises(ClientException, match="host path /etc.*--allow-host-path /etc"):
        check_container(volume("/etc"), HostAccessPolicy(allowed_host_paths=("/data",)))


def test_host_path_below_an_allowed_folder_is_allowed() -> None:
    check_container(volume("/data/inputs"), HostAccessPolicy(allowed_host_paths=("/data",)))


def test_a_sibling_with_the_same_prefix_is_not_allowed() -> None:
    with pytest.raises(ClientException):
        check_container(volume("/data-secret"), HostAccessPolicy(allowed_host_paths=("/data",)))


def test_the_docker_socket_is_refused_with_its_own_reason() -> None:
    with pytest.raises(ClientException, match="Docker socket"):
        check_container(volume("/var/run/docker.sock"), DENY)


def test_host_devices_are_refused_unless_their_path_is_allowed() -> None:
    container = {"linux_parameters": {"devices": [{"host_path": "/dev/fuse"}]}}
    with pytest.raises(ClientException, match="Device uses the host path /dev/fuse"):
        check_container(container, DENY)
    check_container(container, HostAccessPolicy(allowed_host_paths=("/dev/fuse",)))
