"""The site's static files (docs/behaviour.md section 9.1): the call page behind the join links, the
Genesys Cloud panel and the widget script, in a private bucket that only the distribution reads
(infra/distribution.py), copied there by each deploy that changes them.

The bucket's layout, staged at synth from widget/ into a scratch directory (as infra/function_asset.py
stages the functions), is the paths the local run serves them at (tools/localrun/static.py):

    call/*                            widget/call/*      (the page itself is served at /c/{callId})
    genesys/*                         widget/genesys/*   (the panel at /genesys/)
    widget/v1/video-calls-widget.js   widget/video-calls-widget.js

widget/demo.html stays out: it is the local run's demo, with the demo app's key.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from aws_cdk import CfnResource, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IConstruct

from infra.config import StackConfig
from infra.lambda_defaults import LambdaDefaults
from infra.parts import NagAcknowledgement

WIDGET_DIR = Path(__file__).resolve().parents[1] / "widget"
# Folder in the bucket -> the folder of widget/ it holds.
SITE_FOLDERS = {"call": "call", "genesys": "genesys"}
# Key in the bucket -> the file of widget/ it is.
SITE_FILES = {"widget/v1/video-calls-widget.js": "video-calls-widget.js"}
# Never shipped, wherever an editor or a test run leaves them.
EXCLUDED = (".*", "*~", "__pycache__", "node_modules")
# Browsers may reuse a file for five minutes (no file name carries a content hash, so not longer);
# the distribution keeps it a day, and each deploy that changes a file clears the distribution.
BROWSER_MAX_AGE = Duration.minutes(5)
EDGE_MAX_AGE = Duration.days(1)
# Every path the distribution may hold: cleared by a deploy that changes the files (one invalidation
# path, whatever the number of files: the first thousand paths of a month cost nothing).
INVALIDATED_PATHS = ["/*"]


def stage_site_files(destination: Path, widget_dir: Path = WIDGET_DIR) -> Path:
    """Copy the site's files into `destination` (which must not exist) in the bucket's layout."""
    destination.mkdir(parents=True)
    for folder, source in SITE_FOLDERS.items():
        shutil.copytree(widget_dir / source, destination / folder, ignore=shutil.ignore_patterns(*EXCLUDED))
    for key, source in SITE_FILES.items():
        target = destination / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(widget_dir / source, target)
    return destination


class Site(Construct):
    """The bucket and its files. `publish` copies the files once the distribution exists, so that a
    deploy that changes them also clears the distribution's copies."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, defaults: LambdaDefaults
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.defaults = defaults
        # Lives as long as this construct: the CDK copies the files into cdk.out when `publish` binds them.
        self._scratch = tempfile.TemporaryDirectory(prefix="video-calls-site-")
        self.files = stage_site_files(Path(self._scratch.name) / "site")
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Files a deploy writes again: the bucket goes with the stack, prod's too. The deployment
            # below deletes its files first (retain_on_delete=False), which lets the bucket go.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.deployment: s3deploy.BucketDeployment | None = None

    def publish(self, distribution: cloudfront.IDistribution) -> s3deploy.BucketDeployment:
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Files",
            sources=[s3deploy.Source.asset(str(self.files))],
            destination_bucket=self.bucket,
            # Files removed from widget/ leave the bucket too.
            prune=True,
            retain_on_delete=False,
            cache_control=[
                s3deploy.CacheControl.set_public(),
                s3deploy.CacheControl.max_age(BROWSER_MAX_AGE),
                s3deploy.CacheControl.s_max_age(EDGE_MAX_AGE),
            ],
            distribution=distribution,
            distribution_paths=INVALIDATED_PATHS,
            memory_limit=256,
            # Its answer would list every key; nothing reads it, and a long list outgrows a custom
            # resource's 4 KB answer.
            output_object_keys=False,
            log_group=self.defaults.log_group(self, "FilesLogs"),
        )
        # CDK makes its function depend on its role explicitly, as it does ours (LambdaDefaults.function):
        # cfn-lint's W3005 flags that redundancy, which is CDK's and harmless.
        cfn_function = self.deployment_function.node.default_child
        assert isinstance(cfn_function, CfnResource)
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        return self.deployment

    @property
    def deployment_function(self) -> IConstruct:
        """The CDK's one function behind every BucketDeployment of a stack: a singleton at the stack's
        root, which copies the files at deploy and never runs otherwise."""
        stack = Stack.of(self)
        (function,) = [
            child for child in stack.node.children if child.node.id.startswith("Custom::CDKBucketDeployment")
        ]
        return function

    def nag_acknowledgements(self) -> list[NagAcknowledgement]:
        found = [
            NagAcknowledgement(
                self.bucket,
                "AwsSolutions-S1",
                "The bucket holds the site's static files, written only by the deployment and read only "
                "by the distribution (origin access control); S3 server access logs would record nothing "
                "but CloudFront fetching files that are in the repository.",
            )
        ]
        if self.deployment is not None:
            found += self._deployment_acknowledgements()
        return found

    def _deployment_acknowledgements(self) -> list[NagAcknowledgement]:
        """The findings on the CDK's own function behind BucketDeployment (`deployment_function`)."""
        stack = Stack.of(self)
        function = self.deployment_function
        bucket_id = stack.resolve(stack.get_logical_id(self.bucket.node.default_child))  # type: ignore[arg-type]
        assets = (
            f"arn:<AWS::Partition>:s3:::cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-"
            "<AWS::AccountId>-<AWS::Region>/*"
        )
        what = (
            "The CDK's BucketDeployment function copies the site's files from the CDK asset bucket into "
            "the site bucket during a deploy, and runs at no other time"
        )
        found = [
            NagAcknowledgement(
                function,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                f"{what}; the CDK gives it the AWSLambdaBasicExecutionRole managed policy, which allows "
                "writing logs and nothing else.",
            ),
            NagAcknowledgement(
                function,
                "AwsSolutions-IAM5[Resource::*]",
                f"{what}; the CDK grants it cloudfront:CreateInvalidation and GetInvalidation on any "
                "distribution to clear the site's distribution after the copy; they touch no content.",
            ),
            NagAcknowledgement(
                function,
                f"AwsSolutions-IAM5[Resource::{assets}]",
                f"{what}; it reads the asset zip from the CDK's bootstrap bucket, whose keys are content "
                "hashes only known at synth.",
            ),
            NagAcknowledgement(
                function,
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
                f"{what}; it writes and prunes every file of the site bucket, which holds nothing else.",
            ),
        ]
        found += [
            NagAcknowledgement(
                function,
                f"AwsSolutions-IAM5[Action::{action}]",
                f"{what}; the CDK grants its read of the asset bucket and its read/write of the site "
                f"bucket with S3's action groups ({action}), on those two buckets only.",
            )
            for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*")
        ]
        found += [
            NagAcknowledgement(
                function,
                rule,
                f"{what}; its runtime is the CDK's choice, bundled with the aws-cdk-lib version this "
                "project pins, and moves with it.",
            )
            for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion")
        ]
        found += [
            NagAcknowledgement(
                function,
                "Serverless-LambdaDLQ",
                f"{what}; CloudFormation invokes it as a custom resource and fails the deploy when it "
                "fails: there is no asynchronous invocation to catch.",
            ),
            NagAcknowledgement(
                function,
                "Serverless-LambdaTracing",
                f"{what}; its logs go to a log group of the stack's retention, and a failure fails the "
                "deploy with the reason; a trace of `aws s3 sync` would add nothing.",
            ),
        ]
        return found
