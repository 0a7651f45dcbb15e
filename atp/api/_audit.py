"""The audit log's public face: the verifier key, signed checkpoints, and proofs.

None of these needs a key: a checkpoint and a proof hold hashes only, and they exist
so that a party who trusts neither the operator nor this code can check the log.
"""

from __future__ import annotations

import base64
from typing import Any

from quart import Blueprint, Response

from atp.api._requests import carrier, read_params, whole_number

__all__ = ["blueprint"]

blueprint = Blueprint("audit", __name__)

_SIZE_MAX = 2**62


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@blueprint.get("/api/audit/key")
async def key() -> dict[str, Any]:
    """The checkpoints' origin, key name and verifier key (C2SP signed-note format)."""
    signer = carrier().audit.signer
    return {"origin": signer.name, "key_name": signer.name, "verifier_key": signer.verifier_key}


@blueprint.get("/api/audit/checkpoint")
async def checkpoint() -> Response:
    """The newest signed checkpoint, or the one of tree ``size``: byte-exact as signed."""
    params = await read_params()
    size = whole_number(params["size"], 0, _SIZE_MAX) if "size" in params else None
    stored = await carrier().audit.checkpoint(size)
    return Response(stored.note, content_type="text/plain; charset=utf-8")


@blueprint.get("/api/audit/proofs/inclusion")
async def inclusion() -> dict[str, Any]:
    """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    params = await read_params()
    index = whole_number(params.get("index"), 0, _SIZE_MAX)
    size = whole_number(params.get("size"), 1, _SIZE_MAX)
    proof = await carrier().audit.inclusion(index, size)
    assert proof.leaf_hash is not None
    return {
        "index": index,
        "size": size,
        "leaf_hash": _b64(proof.leaf_hash),
        "hashes": [_b64(h) for h in proof.hashes],
    }


@blueprint.get("/api/audit/proofs/consistency")
async def consistency() -> dict[str, Any]:
    """RFC 9162 consistency proof that the tree of ``to`` leaves extends that of ``from``."""
    params = await read_params()
    old = whole_number(params.get("from"), 1, _SIZE_MAX)
    new = whole_number(params.get("to"), 1, _SIZE_MAX)
    proof = await carrier().audit.consistency(old, new)
    return {"from": old, "to": new, "hashes": [_b64(h) for h in proof.hashes]}
