"""The functions' name in logs and metrics: Powertools' own variables, read the same way in Lambda."""

import os

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or "video-calls"
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "VideoCalls"
