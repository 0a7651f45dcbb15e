"""The Merkle tree against the RFC's own definitions (tests/support/rfc9162.py)."""

from __future__ import annotations

import hashlib
import random

import pytest

from atp.audit import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    nodes_for_consistency,
    nodes_for_inclusion,
)
from tests.support.rfc9162 import mth, verify_consistency, verify_inclusion

N = 1000
DATA = [f"record {i}".encode() for i in range(N)]


@pytest.fixture(scope="module")
def grown() -> tuple[dict[tuple[int, int], bytes], list[bytes]]:
    """Every complete subtree the tree stores, and the root after each leaf."""
    tree = CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    roots = []
    for i, data in enumerate(DATA):
        nodes[0, i] = leaf_hash(data)
        for level, index, digest in tree.append(nodes[0, i]):
            nodes[level, index] = digest
        roots.append(tree.root())
    return nodes, roots


def test_every_root_is_the_rfc_root(grown: tuple[dict, list[bytes]]) -> None:
    _, roots = grown
    for size in range(1, N + 1):
        assert roots[size - 1] == mth(DATA[:size]), size


def sizes() -> list[int]:
    """Powers of two, one past and one short of them, and a random spread."""
    picked = {1, 2, 3, N}
    for bit in range(1, 10):
        picked |= {2**bit - 1, 2**bit, 2**bit + 1}
    picked |= set(random.Random(9162).sample(range(1, N + 1), 40))
    return sorted(s for s in picked if 1 <= s <= N)


def test_inclusion_proofs_verify_and_only_for_their_leaf(grown: tuple[dict, list]) -> None:
    nodes, roots = grown
    rng = random.Random(1)
    for size in sizes():
        picks = {0, size - 1, size // 2, *(rng.randrange(size) for _ in range(5))}
        for index in picks:
            assert nodes_for_inclusion(index, size) <= nodes.keys()
            path = inclusion_proof(index, size, nodes)
            root = roots[size - 1]
            assert verify_inclusion(index, size, nodes[0, index], path, root), (index, size)
            other = leaf_hash(b"not the record")
            assert not verify_inclusion(index, size, other, path, root)
            if size > 1:
                assert not verify_inclusion((index + 1) % size, size, nodes[0, index], path, root)


def test_consistency_proofs_verify_and_fail_for_another_tree(grown: tuple[dict, list]) -> None:
    nodes, roots = grown
    rng = random.Random(2)
    pairs = {(m, n) for n in range(1, 70) for m in range(1, n + 1)}
    pairs |= {(m, n) for n in sizes() for m in sizes() if m <= n}
    pairs |= {tuple(sorted((rng.randint(1, N), rng.randint(1, N)))) for _ in range(200)}
    forged = hashlib.sha256(b"forged").digest()
    for m, n in sorted(pairs):
        assert nodes_for_consistency(m, n) <= nodes.keys()
        proof = consistency_proof(m, n, nodes)
        assert verify_consistency(m, n, roots[m - 1], roots[n - 1], proof), (m, n)
        assert not verify_consistency(m, n, forged, roots[n - 1], proof), (m, n)


def test_a_proof_needs_only_logarithmically_many_nodes() -> None:
    size = 1_000_000
    assert len(nodes_for_inclusion(123_456, size)) <= 2 * 20 + 1
    assert len(nodes_for_consistency(654_321, size)) <= 2 * 20 + 1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        nodes_for_inclusion(5, 5)
    with pytest.raises(ValueError):
        nodes_for_consistency(0, 5)
    with pytest.raises(ValueError):
        nodes_for_consistency(6, 5)
