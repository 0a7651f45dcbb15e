"""Webhook signing and SSRF defence: pure, no I/O."""

from atp.webhooks._urls import check_webhook_url, is_public_address

__all__ = ["check_webhook_url", "is_public_address"]
