"""batchemu's error tree; turning an error into HTTP happens only in protocol/serializer.py.

BatchEmuError
+-- ApiError                  an error with an AWS error code and HTTP status
|   +-- ClientException       400: every client mistake (AWS Batch's only modeled client error)
|   +-- ServerException       500: our own bug, never a client mistake
|   |   +-- Unavailable       503: the server is shutting down (SDKs retry it)
|   +-- AccessDenied          403: refused credentials or signature (optional auth)
+-- IllegalTransition         a (status, event) pair the job state table does not allow
+-- ConfigurationError        bad settings at start-up (port in use, unknown runner...)
"""

from __future__ import annotations


class BatchEmuError(Exception):
    """Base of every error batchemu raises on purpose."""


class ApiError(BatchEmuError):
    code = "ServerException"
    status = 500

    def __init__(self, message: str, with_request_id: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # AWS appends ", RequestId: <uuid>" to its "Error executing request" messages; the
        # serializer knows the request id, so it finishes the message there.
        self.with_request_id = with_request_id

    def message_for(self, request_id: str) -> str:
        if self.with_request_id:
            return f"{self.message}, RequestId: {request_id}"
        return self.message


class ClientException(ApiError):
    code = "ClientException"
    status = 400


class NotFound(ClientException):
    """Still a ClientException on the wire; bulk operations treat it as "nothing to do"."""


class ServerException(ApiError):
    code = "ServerException"
    status = 500


class Unavailable(ServerException):
    status = 503


class AccessDenied(ApiError):
    status = 403

    def __init__(self, message: str, code: str = "UnrecognizedClientException") -> None:
        super().__init__(message)
        self.code = code


class IllegalTransition(BatchEmuError):
    def __init__(self, status: str, event: str) -> None:
        super().__init__(f"no transition from {status} on {event}")
        self.status = status
        self.event = event


class ConfigurationError(BatchEmuError):
    """A start-up problem the user can fix; the message says how."""


def invalid_request(detail: str) -> ClientException:
    """AWS Batch's common message format for request validation failures:
    `Error executing request, Exception : <detail>, RequestId: <uuid>`."""
    return ClientException(f"Error executing request, Exception : {detail}", with_request_id=True)
