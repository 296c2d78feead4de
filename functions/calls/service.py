"""The service's name in logs and metrics; Powertools reads the same variables in Lambda."""

import os

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or "video-calls"
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "VideoCalls"
