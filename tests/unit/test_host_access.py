"""What a job may ask of the host: privileged mode, host paths, the Docker socket, devices. Jobs asking
for more than the server allows are accepted (as AWS accepts them) and run confined."""

from __future__ import annotations

from batchemu.domain.host_access import HostAccessPolicy, confine

DENY = HostAccessPolicy()


def volume(path: str) -> dict:
    return {"volumes": [{"name": "v", "host": {"source_path": path}}]}


def test_an_ordinary_container_is_left_as_it_is() -> None:
    container = {"image": "busybox", "volumes": [{"name": "scratch"}]}
    assert confine(container, DENY) == (container, [])


def test_privileged_runs_unprivileged_by_default_with_a_warning_naming_the_flag() -> None:
    confined, [warning] = confine({"privileged": True}, DENY)
    assert confined["privileged"] is False
    assert "--allow-privileged" in warning


def test_privileged_is_kept_with_the_flag() -> None:
    assert confine({"privileged": True}, HostAccessPolicy(allow_privileged=True)) == (
        {"privileged": True},
        [],
    )


def test_host_path_outside_the_allow_list_becomes_a_scratch_volume() -> None:
    confined, [warning] = confine(volume("/etc"), HostAccessPolicy(allowed_host_paths=("/data",)))
    assert confined["volumes"] == [{"name": "v"}]
    assert "host path /etc" in warning and "--allow-host-path" in warning


def test_host_path_below_an_allowed_folder_is_kept() -> None:
    container = volume("/data/inputs")
    assert confine(container, HostAccessPolicy(allowed_host_paths=("/data",))) == (container, [])


def test_a_sibling_with_the_same_prefix_is_not_allowed() -> None:
    confined, warnings = confine(volume("/data-secret"), HostAccessPolicy(allowed_host_paths=("/data",)))
    assert confined["volumes"] == [{"name": "v"}] and len(warnings) == 1


def test_the_docker_socket_is_named_in_the_warning() -> None:
    confined, [warning] = confine(volume("/var/run/docker.sock"), DENY)
    assert confined["volumes"] == [{"name": "v"}]
    assert "Docker socket" in warning


def test_host_devices_are_left_out_unless_their_path_is_allowed() -> None:
    container = {"linux_parameters": {"devices": [{"host_path": "/dev/fuse"}], "init_process_enabled": True}}
    confined, [warning] = confine(container, DENY)
    assert confined["linux_parameters"] == {"devices": [], "init_process_enabled": True}
    assert "/dev/fuse" in warning
    assert confine(container, HostAccessPolicy(allowed_host_paths=("/dev/fuse",))) == (container, [])


def test_confine_leaves_its_input_untouched() -> None:
    container = {"privileged": True, **volume("/etc")}
    confine(container, DENY)
    assert container == {"privileged": True, **volume("/etc")}
