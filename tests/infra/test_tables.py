"""The DynamoDB tables are built from calls.tables, the one definition of their keys."""

from __future__ import annotations

from typing import Any

import pytest
from calls import tables

from tests.infra.conftest import Synth


def table_for(synth: Synth, schema: tables.TableSchema) -> dict[str, Any]:
    construct = synth.stack.data.tables[schema.purpose]
    table: dict[str, Any] = synth.json["Resources"][synth.logical_id(construct)]
    return table


def key_schema(partition: tables.KeyAttribute, sort: tables.KeyAttribute | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        keys.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return keys


def test_there_are_exactly_the_shared_tables(synth: Synth) -> None:
    assert len(synth.resources("AWS::DynamoDB::Table")) == len(tables.ALL_TABLES)


@pytest.mark.parametrize("schema", tables.ALL_TABLES, ids=lambda schema: schema.purpose)
def test_keys_ttl_and_indexes_are_the_shared_definitions(synth: Synth, schema: tables.TableSchema) -> None:
    properties = table_for(synth, schema)["Properties"]
    # The local runner creates its tables from the same request builder: the two must agree.
    expected = tables.create_table_request(schema, "unused")
    assert properties["KeySchema"] == expected["KeySchema"]
    assert properties["KeySchema"] == key_schema(schema.partition_key, schema.sort_key)
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        expected["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    if schema.ttl_attribute:
        assert properties["TimeToLiveSpecification"] == {
            "AttributeName": schema.ttl_attribute,
            "Enabled": True,
        }
    else:
        assert "TimeToLiveSpecification" not in properties
    indexes = {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in properties.get("GlobalSecondaryIndexes", [])
    }
    assert indexes == {
        index.name: (key_schema(index.partition_key, index.sort_key), {"ProjectionType": "ALL"})
        for index in schema.indexes
    }


def test_calls_table_has_the_by_app_and_by_conversation_indexes_and_expires(synth: Synth) -> None:
    properties = table_for(synth, tables.CALLS)["Properties"]
    assert [index["IndexName"] for index in properties["GlobalSecondaryIndexes"]] == [
        tables.CALLS_BY_APP_INDEX,
        tables.CALLS_BY_CONVERSATION_INDEX,
    ]
    assert properties["TimeToLiveSpecification"]["AttributeName"] == "expiresAt"


@pytest.mark.parametrize("schema", tables.ALL_TABLES, ids=lambda schema: schema.purpose)
def test_on_demand_encrypted_with_point_in_time_recovery(synth: Synth, schema: tables.TableSchema) -> None:
    properties = table_for(synth, schema)["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in properties
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # Names are CloudFormation's, so two stages can live in one account.
    assert "TableName" not in properties


@pytest.mark.parametrize("schema", tables.ALL_TABLES, ids=lambda schema: schema.purpose)
def test_prod_tables_are_protected_and_retained(synth_prod: Synth, schema: tables.TableSchema) -> None:
    table = table_for(synth_prod, schema)
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("schema", tables.ALL_TABLES, ids=lambda schema: schema.purpose)
def test_dev_tables_can_be_destroyed(synth_dev: Synth, schema: tables.TableSchema) -> None:
    table = table_for(synth_dev, schema)
    assert table["Properties"].get("DeletionProtectionEnabled", False) is False
    assert table["DeletionPolicy"] == "Delete"
