"""botocore's failures as the API's domain errors, shared by every adapter of calls/: busy or slow
is 503 (ServiceUnavailable), anything else 500 (InternalError)."""

from __future__ import annotations

from typing import Any

from calls.errors import InternalError, ServiceUnavailable

# DynamoDB's answers that mean "too busy right now, retry later".
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        # S3's
        "SlowDown",
        "InternalError",
        "RequestTimeout",
    }
)


class CallIdTaken(InternalError):
    """A call with this id exists already; the write refused to overwrite it."""


def attempt(operation: Any, request: dict[str, Any]) -> Any:
    try:
        return operation(**request)
    except Exception as error:
        raise translate(error) from error


def error_code(error: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def translate(error: Exception) -> Exception:
    """botocore's failures as domain errors: busy or slow means 503, anything else 500."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ConditionalCheckFailedException":
            return CallIdTaken()
        if code in RETRYABLE_ERROR_CODES:
            return ServiceUnavailable()
        return InternalError()
    if isinstance(
        error,
        ConnectTimeoutError | ReadTimeoutError | EndpointConnectionError | ConnectionClosedError,
    ):
        return ServiceUnavailable()
    return error
