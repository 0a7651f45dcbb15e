"""What an operator watches the carrier with: its logging, the request id, histograms.

Nothing here knows the carrier's parts: the HTTP edge and the actors feed these, and
``/metrics`` (``atp.api``) reads them.
"""

from atp.observe._context import REQUEST_ID, current_request_id, new_request_id
from atp.observe._histogram import Histogram, HistogramSnapshot
from atp.observe._logging import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    describe_exception,
)

__all__ = [
    "REQUEST_ID",
    "Histogram",
    "HistogramSnapshot",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "current_request_id",
    "describe_exception",
    "new_request_id",
]
