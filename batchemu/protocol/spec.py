"""Loads botocore's Batch service model once and names members the way the domain does."""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.loaders import create_loader
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
    return ServiceModel(_loader().load_service_model("batch", "service-2"), service_name="batch")


def _loader() -> Any:
    """The data loader of boto3's default session when this process has one (an in-process server and
    its test's client then parse the model once), else a new one; never a new botocore Session, whose
    handler registration alone costs as much as the model. Both read AWS_DATA_PATH, as a Session does."""
    boto3 = sys.modules.get("boto3")
    session = getattr(getattr(boto3, "DEFAULT_SESSION", None), "_session", None)
    if isinstance(session, botocore.session.Session):
        return session.get_component("data_loader")
    return create_loader(os.environ.get("AWS_DATA_PATH"))


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
