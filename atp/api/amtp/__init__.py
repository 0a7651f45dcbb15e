"""ATP as an AMTP v1.0 gateway (``/v1``): agents addressed as ``name@ATP_DOMAIN`` send
and receive AMTP messages, each kept as the carrier's own messages in the one ledger
(``atp.amtp``). docs/amtp.md has the surface and how it maps.
"""

from atp.api.amtp import (
    _agents,
    _inbox,
    _message_reads,
    _messages,
    _schemas,
    _webhooks,
    _workflows,
)
from atp.api.amtp._agents import txt_record
from atp.api.amtp._native import is_amtp_send, send_native

__all__ = ["BLUEPRINTS", "is_amtp_send", "send_native", "txt_record"]

BLUEPRINTS = (
    _messages.blueprint,
    _message_reads.blueprint,
    _inbox.blueprint,
    _agents.blueprint,
    _schemas.blueprint,
    _workflows.blueprint,
    _webhooks.blueprint,
)
