"""The recordings bucket (docs/behaviour.md section 10), and what each function may do on its objects.

Private (every public access blocked), encrypted (S3-managed keys), reachable over TLS only, never
versioned: a recording is written once, by CompleteMultipartUpload, and deleted once, by the
lifecycle rule after `recordingRetentionDays`; uploads never completed are aborted after a day.
The call page on the join links' origin PUTs parts and GETs downloads through presigned URLs, so
CORS allows exactly that origin, those methods, and exposes the ETag a part's PUT answers.

Each function gets its actions on `recordings/*` only, never on the bucket or other keys:

- the API function (`grant_api`): s3:PutObject, ListMultipartUploadParts, AbortMultipartUpload and
  GetObject, for CreateMultipartUpload and the presigned UploadPart, ListParts,
  CompleteMultipartUpload, the abort of an empty recording, the presigned download and HeadObject;
- the signaling function (`grant_signaling`): the same four, for ListParts,
  CompleteMultipartUpload, the abort and HeadObject (the object a racing finisher completed).

CompleteMultipartUpload is authorised by s3:PutObject, HeadObject by s3:GetObject: IAM has no
narrower actions for them. Both also read and write the recordings table (infra/data.py).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from calls import tables
from constructs import Construct

from infra.config import StackConfig
from infra.parts import NagAcknowledgement, Part

# Every recording's key starts so (calls.recordings.object_key): the grants are on these alone.
OBJECTS = "recordings/*"
INCOMPLETE_UPLOAD_DAYS = 1
# How long a browser may cache the answer to a preflight of a part's PUT.
CORS_MAX_AGE_SECONDS = 3000
RECORDING_OBJECT_ACTIONS = (
    "s3:PutObject",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
    "s3:GetObject",
)
# The recordings table's operations (infra/data.py TABLE_OPERATIONS has the API function's).
SIGNALING_TABLE_OPERATIONS = ("GetItem", "Query", "UpdateItem", "DeleteItem")


class Recordings(Part):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        table: dynamodb.ITable,
        page_origin: str,
    ) -> None:
        """`page_origin`: where the call page runs (the join links' base), which uploads the parts."""
        super().__init__(scope, construct_id)
        self.config = config
        self.table = table
        self._granted: list[lambda_.Function] = []
        self.bucket = s3.Bucket(
            self,
            "RecordingsBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=False,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireRecordings",
                    prefix="recordings/",
                    expiration=Duration.days(config.recording_retention_days),
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
                ),
            ],
            cors=[
                s3.CorsRule(
                    allowed_origins=[page_origin],
                    allowed_methods=[s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=CORS_MAX_AGE_SECONDS,
                )
            ],
            # Recordings are customers' data: kept when the stack goes, dev's too (an S3 bucket
            # with objects cannot be deleted by CloudFormation anyway); delete it by hand.
            removal_policy=RemovalPolicy.RETAIN,
        )

    def environment(self) -> dict[str, str]:
        """What a function that touches recordings reads (calls.settings)."""
        return {
            tables.RECORDINGS.name_variable: self.table.table_name,
            "RECORDINGS_BUCKET_NAME": self.bucket.bucket_name,
            "RECORDING_RETENTION_DAYS": str(self.config.recording_retention_days),
        }

    def _objects_statement(self, sid: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=sid,
            actions=list(RECORDING_OBJECT_ACTIONS),
            resources=[self.bucket.arn_for_objects(OBJECTS)],
        )

    def grant_api(self, function: lambda_.Function) -> None:
        """The API function: start, part URLs, complete, list (its table rights are infra/data.py's)."""
        assert function.role is not None
        function.role.add_to_principal_policy(self._objects_statement("RecordingObjects"))
        for name, value in self.environment().items():
            function.add_environment(name, value)
        self._granted.append(function)

    def grant_signaling(self, function: lambda_.Function) -> None:
        """The signaling function: completing recordings on the agent's $disconnect and on a call's
        end (calls.finish_recording): the objects above, and the table's reads and conditional writes."""
        assert function.role is not None
        function.role.add_to_principal_policy(self._objects_statement("RecordingObjects"))
        function.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RecordingsTable",
                actions=[f"dynamodb:{operation}" for operation in SIGNALING_TABLE_OPERATIONS],
                resources=[self.table.table_arn],
            )
        )
        for name, value in self.environment().items():
            function.add_environment(name, value)
        self._granted.append(function)

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        found = [
            NagAcknowledgement(
                self.bucket,
                "AwsSolutions-S1",
                "No server access logs: the objects are reached only through URLs the API function "
                "presigns for 15 minutes, each logged there with its call and recording, and by the "
                "functions' own calls, which CloudTrail records; a log bucket would hold the same "
                "requests again, and itself need a log bucket.",
            ),
        ]
        for function in self._granted:
            policy = function.role.node.try_find_child("DefaultPolicy") if function.role else None
            if policy is None:
                continue
            found.append(
                NagAcknowledgement(
                    policy,
                    f"AwsSolutions-IAM5[Resource::<{self._bucket_logical_id()}.Arn>/{OBJECTS}]",
                    "Object actions take object ARNs: the grant covers the recordings' key prefix "
                    "(recordings/{callId}/{recordingId}.webm) and nothing else of the bucket.",
                )
            )
        return found

    def _bucket_logical_id(self) -> str:
        from aws_cdk import Stack

        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        return Stack.of(self).resolve(cfn.logical_id)  # type: ignore[no-any-return]
