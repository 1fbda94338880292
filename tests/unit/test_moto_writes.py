"""What a write to moto may change (integrations/moto_writes.py): the state store saves that much."""

from __future__ import annotations

import io
import json
from typing import Any

from batchemu.integrations.moto_writes import Scope, is_write, scope_of


def dynamodb_request(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(body).encode()
    return {
        "REQUEST_METHOD": "POST",
        "HTTP_X_AMZ_TARGET": f"DynamoDB_20120810.{operation}",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
    }


def s3_request(method: str, query: str = "") -> dict[str, Any]:
    return {"REQUEST_METHOD": method, "PATH_INFO": "/bucket/key", "QUERY_STRING": query}


def test_an_item_write_names_its_table_and_key_and_leaves_the_body_for_moto() -> None:
    environ = dynamodb_request("PutItem", {"TableName": "t", "Item": {"id": {"S": "a"}, "v": {"N": "1"}}})
    assert scope_of("dynamodb", environ) == Scope(items=(("t", {"id": {"S": "a"}, "v": {"N": "1"}}),))
    assert json.loads(environ["wsgi.input"].read())["TableName"] == "t"


def test_batch_and_transaction_writes_name_every_item_they_put_update_or_delete() -> None:
    batch = {
        "RequestItems": {
            "t": [
                {"PutRequest": {"Item": {"id": {"S": "a"}}}},
                {"DeleteRequest": {"Key": {"id": {"S": "b"}}}},
            ]
        }
    }
    assert scope_of("dynamodb", dynamodb_request("BatchWriteItem", batch)) == Scope(
        items=(("t", {"id": {"S": "a"}}), ("t", {"id": {"S": "b"}}))
    )
    transaction = {
        "TransactItems": [
            {"Update": {"TableName": "u", "Key": {"id": {"S": "c"}}, "UpdateExpression": "SET x = :x"}},
            {"ConditionCheck": {"TableName": "u", "Key": {"id": {"S": "d"}}}},
        ]
    }
    assert scope_of("dynamodb", dynamodb_request("TransactWriteItems", transaction)) == Scope(
        items=(("u", {"id": {"S": "c"}}),)
    )


def test_table_writes_change_no_item_and_other_writes_may_change_any() -> None:
    assert scope_of("dynamodb", dynamodb_request("CreateTable", {"TableName": "t"})) == Scope()
    assert scope_of("dynamodb", dynamodb_request("ExecuteStatement", {"Statement": "UPDATE t"})) is None
    assert scope_of("dynamodb", dynamodb_request("PutItem", {"Item": {}})) is None  # refused by moto


def test_s3_writes_that_change_an_object_in_place_may_change_any() -> None:
    assert scope_of("s3", s3_request("PUT")) == Scope()
    assert scope_of("s3", s3_request("PUT", "partNumber=1&uploadId=u")) == Scope(uploads=True)
    assert scope_of("s3", s3_request("PUT", "tagging")) == Scope(tags=True)
    assert scope_of("s3", s3_request("PUT", "acl")) is None
    assert scope_of("s3", s3_request("PUT", "retention")) is None


def test_other_services_may_change_anything_they_hold() -> None:
    assert scope_of("sqs", {"REQUEST_METHOD": "POST", "QUERY_STRING": "Action=SendMessage"}) is None
    assert is_write({"REQUEST_METHOD": "POST", "QUERY_STRING": "Action=SendMessage"})
