"""The integration tests' helpers live in tests/services.py; their fixtures are registered once,
by tests/conftest.py. Re-exported here for the tests that import them from this package."""

from tests.services import TABLE_NAMES, HttpResult, LocalApi, TestApp, assert_error, table_environment

__all__ = ["TABLE_NAMES", "HttpResult", "LocalApi", "TestApp", "assert_error", "table_environment"]
