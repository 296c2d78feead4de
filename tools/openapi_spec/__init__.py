"""The OpenAPI 3.1 document of the API, generated from the handler's routes and the pydantic models.

A development tool: never shipped in the Lambda. `python -m openapi_spec --write` (or `make openapi`)
regenerates docs/openapi.json; a test fails when the committed file no longer matches the code.
"""
