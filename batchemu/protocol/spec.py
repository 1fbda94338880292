"""Loads botocore's Batch service model once and names members the way the domain does."""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore import xform_name
from botocore.model import OperationModel, ServiceModel, Shape

# xform_name gives "maxv_cpus" for "maxvCpus"; these read better in Python.
_NAME_OVERRIDES = {
    "maxvCpus": "max_vcpus",
    "minvCpus": "min_vcpus",
    "desiredvCpus": "desired_vcpus",
    "unmanagedvCpus": "unmanaged_vcpus",
}


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("batch")


@cache
def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def operation_names() -> list[str]:
    return list(service_model().operation_names)


@cache
def python_name(member: str) -> str:
    """The snake_case name the domain and service layers use for a wire member name."""
    return _NAME_OVERRIDES.get(member) or xform_name(member)


@cache
def members_by_python_name(shape: Shape) -> dict[str, tuple[str, Shape]]:
    """For a structure shape: python name -> (wire name, member shape)."""
    return {python_name(name): (name, member) for name, member in shape.members.items()}
