"""The CDK app: one stack per stage (`-c stage=dev|prod`), checked by cdk-nag on every synth.

cdk.json runs it as `python -m infra.app` from the repository root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Tags, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import load_config
from infra.stack import VideoCallsStack


def build_app(
    context: Mapping[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, VideoCallsStack]:
    """The app with its one stack. Without arguments it reads cdk.json's context through the CLI."""
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    config = load_config(app.node)
    stack = VideoCallsStack(
        app,
        config.stack_name,
        config=config,
        description=(
            f"Video Calls API ({config.stage}): the /api/calls routes on API Gateway, Lambda and "
            "DynamoDB, call events on EventBridge and SQS"
        ),
        termination_protection=config.is_production,
    )
    Tags.of(stack).add("project", "video-calls-api")
    Tags.of(stack).add("stage", config.stage)
    # An unacknowledged finding of either pack fails the synth (acknowledgements: each construct's
    # nag_acknowledgements, applied by the stack).
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
