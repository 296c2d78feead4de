"""The stack's data: the DynamoDB tables of calls.tables, what each function calls on each of them,
the key list cursors are signed with, and the key of the signaling tokens."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from calls import tables
from constructs import Construct

from infra.config import StackConfig
from infra.parts import NagAcknowledgement, Part

ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}

# The DynamoDB operations each function calls on each table: their IAM actions, and the operations
# whose throttling is alarmed on. The API function's on the tables themselves (calls.repository);
# no Scan anywhere, and no Query on the calls table itself.
TABLE_OPERATIONS = {
    tables.APPS.purpose: ("Query",),  # the app and its presets, one partition
    tables.CALLS.purpose: ("GetItem", "PutItem", "UpdateItem"),  # read, create, end and join
    tables.IDEMPOTENCY.purpose: ("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
    # A start's Put, a completion's Update and a discard's Delete run in transactions
    # (TransactWriteItems), which IAM authorises by these actions.
    tables.RECORDINGS.purpose: ("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"),
}
# The API function's on indexes, granted on each named index only (never `index/*`): the listing's
# one Query a page, by app or by conversation.
INDEX_OPERATIONS = {
    tables.CALLS.purpose: {
        tables.CALLS_BY_APP_INDEX: ("Query",),
        tables.CALLS_BY_CONVERSATION_INDEX: ("Query",),
    },
}
# The events and delivery functions' (infra/events.py), the calls table's stream aside.
EVENTS_TABLE_OPERATIONS = {tables.WEBHOOKS.purpose: ("GetItem",)}
# The signaling function's (infra/signaling.py): its connections and used tokens, and the call's
# state (functions/signaling/adapters.py).
SIGNALING_TABLE_OPERATIONS = {
    tables.CONNECTIONS.purpose: ("PutItem", "UpdateItem", "Query", "GetItem", "DeleteItem"),
    tables.CALLS.purpose: ("GetItem",),
}


# Operations CloudWatch counts throttles under that are no IAM action of their own.
UNGRANTED_ALARMED_OPERATIONS = {tables.RECORDINGS.purpose: ("TransactWriteItems",)}


def alarmed_operations(purpose: str) -> tuple[str, ...]:
    """A table's operations whose throttling is alarmed on: those the API function (on the
    table and its indexes: DynamoDB counts an index's throttled Query under the table's name)
    and the events functions may call."""
    on_indexes = [operation for ops in INDEX_OPERATIONS.get(purpose, {}).values() for operation in ops]
    return tuple(
        dict.fromkeys(
            (
                *TABLE_OPERATIONS.get(purpose, ()),
                *on_indexes,
                *EVENTS_TABLE_OPERATIONS.get(purpose, ()),
                *SIGNALING_TABLE_OPERATIONS.get(purpose, ()),
                *UNGRANTED_ALARMED_OPERATIONS.get(purpose, ()),
            )
        )
    )


# Characters of the generated cursor and token signing keys (letters and digits: about 380 bits).
CURSOR_SIGNING_KEY_LENGTH = 64


def _key(attribute: tables.KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=attribute.name, type=ATTRIBUTE_TYPES[attribute.type])


class Data(Part):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.removal_policy = removal_policy
        self.tables = {schema.purpose: self._table(schema) for schema in tables.ALL_TABLES}
        self.apps_table = self.tables[tables.APPS.purpose]
        self.calls_table = self.tables[tables.CALLS.purpose]
        self.idempotency_table = self.tables[tables.IDEMPOTENCY.purpose]
        self.webhooks_table = self.tables[tables.WEBHOOKS.purpose]
        self.connections_table = self.tables[tables.CONNECTIONS.purpose]
        self.recordings_table = self.tables[tables.RECORDINGS.purpose]
        self.cursor_signing_key = self._cursor_signing_key()
        self.signaling_token_key = self._signaling_token_key()

    def _table(self, schema: tables.TableSchema) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"{schema.purpose.capitalize()}Table",
            partition_key=_key(schema.partition_key),
            sort_key=_key(schema.sort_key) if schema.sort_key else None,
            time_to_live_attribute=schema.ttl_attribute,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=self.config.is_production,
            removal_policy=self.removal_policy,
            stream=dynamodb.StreamViewType[schema.stream_view_type] if schema.stream_view_type else None,
        )
        for index in schema.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_key(index.partition_key),
                sort_key=_key(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    def _cursor_signing_key(self) -> secretsmanager.Secret:
        """The key list cursors are signed with, generated by Secrets Manager at the first deploy.

        One key for every container of the API function: without it each container would sign
        with a random key of its own and a cursor would fail on the next container that served the
        list. It reaches the function as CURSOR_SIGNING_KEY through a CloudFormation dynamic
        reference, resolved at deploy: neither the template nor cdk.out hold it, and reading it
        costs no request, no code and no IAM permission at run time. The price is that it sits
        in the function's configuration (encrypted at rest with KMS, readable by whoever may
        call lambda:GetFunctionConfiguration), acceptable for this key: a forged cursor could
        only move within the caller's own calls, because the app and the conversation of a
        listing come from the authenticated request, never from the cursor.
        """
        return secretsmanager.Secret(
            self,
            "CursorSigningKey",
            description=f"Signs the list cursors of the Video Calls API ({self.config.stage})",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=CURSOR_SIGNING_KEY_LENGTH, exclude_punctuation=True
            ),
            # Worthless without the stack: it goes with it, in prod too.
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _signaling_token_key(self) -> secretsmanager.Secret:
        """The key the join signs signaling tokens with and the signaling function checks them
        with: one secret for both functions, reaching them as SIGNALING_TOKEN_KEY through a
        dynamic reference, as the cursor key does. A token lives 60 seconds, so a new key costs
        at most a page's reconnect (it joins again for a fresh token)."""
        return secretsmanager.Secret(
            self,
            "SignalingTokenKey",
            description=f"Signs the signaling tokens of the Video Calls API ({self.config.stage})",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=CURSOR_SIGNING_KEY_LENGTH, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        return [
            NagAcknowledgement(
                self.signaling_token_key,
                "AwsSolutions-SMG4",
                "The signaling token key is not rotated on a schedule: the functions read it through "
                "dynamic references resolved at deploy, so a rotated value would reach them only at the "
                "next deploy; a token is valid for 60 seconds and one connection, so rotating by deploying "
                "costs at most a reconnect.",
            ),
            NagAcknowledgement(
                self.cursor_signing_key,
                "AwsSolutions-SMG4",
                "The cursor signing key is not rotated on a schedule: it only signs list cursors, which "
                "cannot reach outside the caller's own calls (the app and conversation come from the "
                "authenticated request), a new key ends every listing in progress with 400 "
                "INVALID_CURSOR, and the function reads it through a dynamic reference resolved at "
                "deploy, so a rotated value would reach it only at the next deploy that updates the "
                "function.",
            ),
        ]
