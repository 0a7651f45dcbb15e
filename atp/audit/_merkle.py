"""The Merkle tree of RFC 9162 §2.1 over the audit records: hashing, appending, proofs.

Pure: no I/O. A tree of ``n`` leaves is described by its *complete subtrees*, each
named ``(level, index)``: the subtree of level ``l`` and index ``i`` covers leaves
``[i * 2**l, (i + 1) * 2**l)``. Level 0 are the leaf hashes. Those are what the store
keeps; any other range's hash is folded from a few of them. A proof is therefore
computed in two passes: :func:`nodes_for_inclusion` / :func:`nodes_for_consistency`
name the complete subtrees it needs (O(log n) of them), the store reads them in one
query, and :func:`inclusion_proof` / :func:`consistency_proof` fold them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "Node",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "nodes_for_consistency",
    "nodes_for_inclusion",
    "nodes_for_root",
    "root_from",
    "root_from_inclusion",
]

Node = tuple[int, int]  # (level, index) of a complete subtree
EMPTY_ROOT = hashlib.sha256(b"").digest()
_ZERO = bytes(32)


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_hash(start: int, end: int, node: Callable[[int, int], bytes]) -> bytes:
    """MTH(D[start:end]) from complete subtrees. ``start`` is aligned to every power of
    two not above ``end - start``, as every range RFC 9162's recursion visits is."""
    n = end - start
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return node(level, start >> level)
    k = _split(n)
    return node_hash(_range_hash(start, start + k, node), _range_hash(start + k, end, node))


def _path(index: int, start: int, end: int, node: Callable[[int, int], bytes]) -> list[bytes]:
    """RFC 9162 PATH(index, D[start:end]), leaf first."""
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if index < start + k:
        return [*_path(index, start, start + k, node), _range_hash(start + k, end, node)]
    return [*_path(index, start + k, end, node), _range_hash(start, start + k, node)]


def _subproof(
    m: int, start: int, end: int, whole: bool, node: Callable[[int, int], bytes]
) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[start:end], whole)."""
    n = end - start
    if m == n:
        return [] if whole else [_range_hash(start, end, node)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, start, start + k, whole, node), _range_hash(start + k, end, node)]
    return [*_subproof(m - k, start + k, end, False, node), _range_hash(start, start + k, node)]


def _collect(walk: Callable[[Callable[[int, int], bytes]], object]) -> set[Node]:
    wanted: set[Node] = set()

    def note(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return _ZERO

    walk(note)
    return wanted


def _check_inclusion(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")


def _check_consistency(old: int, new: int) -> None:
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")


def nodes_for_inclusion(index: int, size: int) -> set[Node]:
    """The complete subtrees an inclusion proof of ``index`` in ``size`` needs."""
    _check_inclusion(index, size)
    return _collect(lambda node: _path(index, 0, size, node)) | {(0, index)}


def inclusion_proof(index: int, size: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (leaf first).

    Raises:
        ValueError: ``index`` is not below ``size``.
        KeyError: ``nodes`` lacks one of :func:`nodes_for_inclusion`.
    """
    _check_inclusion(index, size)
    return _path(index, 0, size, lambda level, i: nodes[level, i])


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an RFC 9162 audit path of leaf ``index`` folds to (§2.1.3.2: the
    verifier's side of :func:`inclusion_proof`); None if the path cannot be one."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def nodes_for_consistency(old: int, new: int) -> set[Node]:
    """The complete subtrees a consistency proof from ``old`` to ``new`` needs."""
    _check_consistency(old, new)
    return _collect(lambda node: _subproof(old, 0, new, True, node))


def consistency_proof(old: int, new: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    """The proof that the tree of ``new`` leaves extends the tree of ``old`` leaves.

    Raises:
        ValueError: not ``0 < old <= new``.
        KeyError: ``nodes`` lacks one of :func:`nodes_for_consistency`.
    """
    _check_consistency(old, new)
    return _subproof(old, 0, new, True, lambda level, i: nodes[level, i])


def nodes_for_root(size: int) -> list[Node]:
    """The complete subtrees whose fold is the root of ``size`` leaves, left to right:
    one per set bit of ``size``, largest first (the tree's right edge)."""
    nodes: list[Node] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def root_from(edge: list[bytes]) -> bytes:
    """The root from the right edge's hashes (:func:`nodes_for_root` order)."""
    if not edge:
        return EMPTY_ROOT
    root = edge[-1]
    for left in reversed(edge[:-1]):
        root = node_hash(left, root)
    return root


class CompactRange:
    """The right edge of a growing tree: enough to append leaves and compute the root.

    Appending a leaf completes zero or more subtrees above it; :meth:`append` returns
    them (level >= 1) so that the store keeps every complete subtree.
    """

    def __init__(self, size: int = 0, edge: list[bytes] | None = None) -> None:
        edge = edge or []
        if len(edge) != bin(size).count("1"):
            raise ValueError(f"a tree of size {size} has {bin(size).count('1')} edge hashes")
        self.size = size
        self._edge = list(edge)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; the complete subtrees (level, index, hash) it completed."""
        completed: list[tuple[int, int, bytes]] = []
        index = self.size
        digest = leaf
        level = 0
        while index >> level & 1:  # the edge's last subtree is the same size: merge
            digest = node_hash(self._edge.pop(), digest)
            level += 1
            completed.append((level, index >> level, digest))
        self._edge.append(digest)
        self.size += 1
        return completed

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        return root_from(self._edge)
