"""When a failed delivery is tried again: the one schedule the stack, the delivery function and
the local run share.

Attempt 1 is at once; attempt n+1 comes RETRY_DELAYS_SECONDS[n-1] after attempt n fails
(Standard Webhooks' own example schedule). Eight attempts over about 27.6 hours, then the
dead-letter queue. Every delay fits SQS's 12-hour limit on a visibility timeout.
"""

from __future__ import annotations

RETRY_DELAYS_SECONDS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS) + 1
SQS_MAX_VISIBILITY_SECONDS = 12 * 3600


def delay_after_attempt(attempt: int) -> int | None:
    """Seconds until the next attempt after attempt `attempt` (1-based) failed; None: no more."""
    if attempt < 1 or attempt >= MAX_ATTEMPTS:
        return None
    return RETRY_DELAYS_SECONDS[attempt - 1]


def schedule_span_seconds() -> int:
    """From the first attempt to the last, when every attempt fails at once."""
    return sum(RETRY_DELAYS_SECONDS)
