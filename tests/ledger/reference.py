"""A naive, recursive reference of RFC 9162 §2.1, written from the definitions (MTH, PATH,
PROOF/SUBPROOF) and their recursive verification, to check the incremental tree and the
bit-twiddling verifiers of §2.1.3.2 / §2.1.4.2 against."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return H(b"\x01" + left + right)


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf *hashes*."""
    n = len(leaves)
    if n == 0:
        return H(b"")
    if n == 1:
        return leaves[0]
    k = split(n)
    return node(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = split(n)
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return subproof(m, leaves, True)


class Refused(Exception):
    pass


def _root_from_path(m: int, n: int, leaf: bytes, p: Sequence[bytes]) -> bytes:
    if n == 1:
        if p:
            raise Refused("path too long")
        return leaf
    if not p:
        raise Refused("path too short")
    k = split(n)
    *rest, last = p
    if m < k:
        return node(_root_from_path(m, k, leaf, rest), last)
    return node(last, _root_from_path(m - k, n - k, leaf, rest))


def accepts_inclusion(leaf: bytes, m: int, n: int, p: Sequence[bytes], root: bytes) -> bool:
    """Whether the recursive reading of PATH accepts the proof."""
    if not 0 <= m < n:
        return False
    try:
        return _root_from_path(m, n, leaf, p) == root
    except Refused:
        return False


def _roots_from_proof(
    m: int, n: int, p: Sequence[bytes], whole: bool, old_root: bytes
) -> tuple[bytes, bytes]:
    if m == n:
        if whole:
            if p:
                raise Refused("proof too long")
            return old_root, old_root
        if len(p) != 1:
            raise Refused("proof length")
        return p[0], p[0]
    if not p:
        raise Refused("proof too short")
    k = split(n)
    *rest, last = p
    if m <= k:
        old, new = _roots_from_proof(m, k, rest, whole, old_root)
        return old, node(new, last)
    old, new = _roots_from_proof(m - k, n - k, rest, False, old_root)
    return node(last, old), node(last, new)


def accepts_consistency(
    m: int, n: int, old_root: bytes, new_root: bytes, p: Sequence[bytes]
) -> bool:
    """Whether the recursive reading of PROOF accepts (for 0 < m < n)."""
    if not 0 < m < n:
        return False
    try:
        return _roots_from_proof(m, n, p, True, old_root) == (old_root, new_root)
    except Refused:
        return False
