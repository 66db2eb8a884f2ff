"""The Merkle tree of RFC 9162 (Certificate Transparency 2.0) §2.1, with its proofs.

Hashes are SHA-256 with the domain separation of §2.1.1: a leaf is ``SHA-256(0x00 || data)``, an
interior node ``SHA-256(0x01 || left || right)``, the empty tree ``SHA-256("")``. For ``n > 1``
leaves and ``k`` the largest power of two smaller than ``n``::

    MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))

:class:`MerkleTree` is append-only and keeps the hash of every *perfect* subtree (``2**level``
leaves starting at ``index * 2**level``), so an append costs O(1) amortised (O(log n) worst
case) and the root of any size, an inclusion proof (§2.1.3.1) or a consistency proof (§2.1.4.1)
costs O(log n): every subtree those need is either perfect (one lookup) or a suffix on the right
edge of the tree, and all of those are folded once per call.

:func:`verify_inclusion` and :func:`verify_consistency` are the verification algorithms of
§2.1.3.2 and §2.1.4.2; they raise :class:`LedgerError` (``inclusion`` / ``consistency`` when the
proof does not hold, ``malformed`` when the input is not even a question) and return ``None``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .errors import LedgerError, malformed

HASH_SIZE = 32
#: MTH({}) = SHA-256() (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF = b"\x00"
_NODE = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of a leaf whose input is ``data``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise malformed(f"a leaf's data must be bytes, not {type(data).__name__}")
    return _sha256(_LEAF + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: an interior node over two child hashes."""
    _check_hash(left, "left child")
    _check_hash(right, "right child")
    return _sha256(_NODE + left + right).digest()


@dataclass(frozen=True, slots=True)
class Node:
    """The hash of the perfect subtree of ``2**level`` leaves starting at ``index * 2**level``
    (level 0: the leaf hashes themselves)."""

    level: int
    index: int
    hash: bytes


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise malformed(f"{what} must be {HASH_SIZE} bytes, not {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise malformed(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(f"{what} must be an integer, not {type(value).__name__}")
    if value < 0:
        raise malformed(f"{what} must not be negative, got {value}")
    return value


def _check_proof(proof: object) -> list[bytes]:
    if isinstance(proof, str | bytes | bytearray) or not isinstance(proof, Sequence):
        raise malformed("a proof must be a sequence of 32-byte hashes")
    return [_check_hash(p, f"proof hash #{i}") for i, p in enumerate(proof)]


class MerkleTree:
    """An in-memory, append-only RFC 9162 Merkle tree over leaf hashes.

    Stored: one contiguous byte array per level holding the hashes of that level's perfect
    subtrees (about ``2 * 32 * size`` bytes in all). Every earlier tree size stays answerable:
    :meth:`root`, :meth:`inclusion_proof` and :meth:`consistency_proof` take the size to answer
    for. For persistence, :meth:`new_nodes` names the nodes an append created, :meth:`nodes`
    lists them all, and :meth:`from_leaves` / :meth:`from_nodes` rebuild a tree.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0

    # -- building ------------------------------------------------------------------------------

    def append(self, leaf_hash: bytes) -> int:
        """Add a leaf (its hash, see :func:`leaf_hash`); returns its index."""
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            _check_hash(leaf_hash, "a leaf hash")
        index = self._size
        levels = self._levels
        levels[0] += leaf_hash
        value, i, level = leaf_hash, index, 0
        while i & 1:  # a right child completes its parent
            start = (i - 1) * HASH_SIZE
            value = _sha256(_NODE + levels[level][start : start + HASH_SIZE] + value).digest()
            level += 1
            i >>= 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += value
        self._size = index + 1
        return index

    def extend(self, hashes: Iterable[bytes]) -> None:
        """Append every leaf hash of ``hashes``, in order."""
        for value in hashes:
            self.append(value)

    @classmethod
    def from_leaves(cls, hashes: Iterable[bytes]) -> MerkleTree:
        """A tree over these leaf hashes (recomputes every node: one hash per leaf)."""
        tree = cls()
        tree.extend(hashes)
        return tree

    @classmethod
    def from_nodes(cls, nodes: Iterable[Node | tuple[int, int, bytes]]) -> MerkleTree:
        """Rebuild a tree from every node :meth:`nodes` listed (any order), without hashing.

        The set must be complete (for ``size`` leaves, ``size >> level`` nodes on each level
        with any) and hold no duplicate; hashes are trusted as given (they come from our own
        store; an auditor recomputes from the leaves instead)."""
        listed = list(nodes)
        size = 0
        triples: list[tuple[int, int, bytes]] = []
        for item in listed:
            if isinstance(item, Node):
                item = (item.level, item.index, item.hash)
            if not isinstance(item, tuple) or len(item) != 3:
                raise malformed("a node must be a Node or a (level, index, hash) triple")
            if _check_int(item[0], "node level") == 0:
                size += 1
            triples.append(item)
        tree = cls()
        depth = size.bit_length()
        tree._levels = [bytearray(HASH_SIZE * (size >> level)) for level in range(max(depth, 1))]
        seen = [bytearray(size >> level) for level in range(max(depth, 1))]
        for level, index, value in triples:
            _check_int(index, "node index")
            _check_hash(value, f"node ({level}, {index})")
            if level >= depth or index >= size >> level:
                raise malformed(f"node ({level}, {index}) is outside a tree of {size} leaves")
            if seen[level][index]:
                raise malformed(f"node ({level}, {index}) is listed twice")
            seen[level][index] = 1
            tree._levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE] = value
        for level, flags in enumerate(seen):
            if not all(flags):
                raise malformed(f"level {level} misses {flags.count(0)} of {len(flags)} nodes")
        tree._size = size
        return tree

    # -- reading ---------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self.node(0, index)

    def node(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree of ``2**level`` leaves at ``index * 2**level``."""
        _check_int(level, "level")
        _check_int(index, "index")
        if level >= len(self._levels) or index >= self._size >> level:
            raise malformed(f"no node ({level}, {index}) in a tree of {self._size} leaves")
        start = index * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def new_nodes(self, index: int) -> list[Node]:
        """The nodes appending leaf ``index`` created: the leaf itself, then each parent it
        completed (what a store persists next to the leaf)."""
        _check_int(index, "index")
        if index >= self._size:
            raise malformed(f"no leaf {index} in a tree of {self._size} leaves")
        created = [Node(0, index, self.leaf(index))]
        level, end = 1, index + 1
        while end % (1 << level) == 0:
            created.append(Node(level, (end >> level) - 1, self.node(level, (end >> level) - 1)))
            level += 1
        return created

    def nodes(self) -> Iterator[Node]:
        """Every stored node, level by level (leaves first)."""
        for level, data in enumerate(self._levels):
            for index in range(len(data) // HASH_SIZE):
                start = index * HASH_SIZE
                yield Node(level, index, bytes(data[start : start + HASH_SIZE]))

    def leaves(self) -> Iterator[bytes]:
        """Every leaf hash, in order."""
        data = self._levels[0]
        for start in range(0, len(data), HASH_SIZE):
            yield bytes(data[start : start + HASH_SIZE])

    def _size_arg(self, size: int | None, what: str = "size") -> int:
        if size is None:
            return self._size
        _check_int(size, what)
        if size > self._size:
            raise malformed(f"{what} {size} is larger than the tree ({self._size} leaves)")
        return size

    def _perfect(self, start: int, count: int) -> bytes:
        level = count.bit_length() - 1
        offset = (start >> level) * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def _right_edge(self, size: int) -> dict[int, bytes]:
        """start -> MTH(D[start:size]) for every start on the right edge of the tree of
        ``size`` leaves: the perfect subtrees of size's binary decomposition, folded from the
        right (these are the only imperfect subtrees a root or proof of that size needs)."""
        starts: list[int] = []
        pieces: list[bytes] = []
        pos, left = 0, size
        while left:
            count = 1 << (left.bit_length() - 1)
            starts.append(pos)
            pieces.append(self._perfect(pos, count))
            pos += count
            left -= count
        edge: dict[int, bytes] = {}
        value = pieces[-1]
        edge[starts[-1]] = value
        for start, piece in zip(reversed(starts[:-1]), reversed(pieces[:-1]), strict=True):
            value = _sha256(_NODE + piece + value).digest()
            edge[start] = value
        return edge

    def _subtree(self, start: int, end: int, edge: dict[int, bytes]) -> bytes:
        count = end - start
        if count & (count - 1) == 0:
            return self._perfect(start, count)
        return edge[start]  # imperfect subtrees only occur on the right edge

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them)."""
        n = self._size_arg(size)
        if n == 0:
            return EMPTY_ROOT
        return self._right_edge(n)[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 §2.1.3.1, the leaf's sibling first."""
        n = self._size_arg(size)
        _check_int(index, "index")
        if index >= n:
            raise malformed(f"leaf index {index} is not in a tree of size {n}")
        edge = self._right_edge(n)
        path: list[bytes] = []
        start, end = 0, n
        while end - start > 1:
            k = 1 << ((end - start - 1).bit_length() - 1)
            if index < start + k:
                path.append(self._subtree(start + k, end, edge))
                end = start + k
            else:
                path.append(self._subtree(start, start + k, edge))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1; empty when ``old_size`` is 0 or
        equals ``new_size`` (nothing to prove)."""
        n = self._size_arg(new_size, "new size")
        _check_int(old_size, "old size")
        if old_size > n:
            raise malformed(f"old size {old_size} is larger than new size {n}")
        if old_size in (0, n):
            return []
        edge = self._right_edge(n)
        proof: list[bytes] = []
        start, end, m, whole = 0, n, old_size, True
        while m != end - start:
            k = 1 << ((end - start - 1).bit_length() - 1)
            if m <= k:
                proof.append(self._subtree(start + k, end, edge))
                end = start + k
            else:
                proof.append(self._subtree(start, start + k, edge))
                m -= k
                start += k
                whole = False
        if not whole:
            proof.append(self._subtree(start, end, edge))
        proof.reverse()
        return proof


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes PATH(index, D[size]) holds (for ``0 <= index < size``)."""
    length, start, end = 0, 0, size
    while end - start > 1:
        k = 1 << ((end - start - 1).bit_length() - 1)
        if index < start + k:
            end = start + k
        else:
            start += k
        length += 1
    return length


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """How many hashes PROOF(old_size, D[new_size]) holds (for ``0 < old_size < new_size``)."""
    length, start, end, m, whole = 0, 0, new_size, old_size, True
    while m != end - start:
        k = 1 << ((end - start - 1).bit_length() - 1)
        if m <= k:
            end = start + k
        else:
            m -= k
            start += k
            whole = False
        length += 1
    return length + (0 if whole else 1)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise unless ``proof`` shows ``leaf_hash`` at ``index`` in the tree
    of ``size`` leaves whose root is ``root``."""
    _check_hash(leaf_hash, "the leaf hash")
    _check_int(index, "the leaf index")
    _check_int(size, "the tree size")
    _check_hash(root, "the root")
    path = _check_proof(proof)
    if index >= size:
        raise malformed(f"leaf index {index} is not in a tree of size {size}")
    expected = inclusion_proof_length(index, size)
    if len(path) != expected:
        raise LedgerError(
            "inclusion",
            f"the inclusion proof has {len(path)} hashes; one for leaf {index} in a tree "
            f"of size {size} has {expected}",
        )
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:  # pragma: no cover - excluded by the length check
            raise LedgerError("inclusion", "the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = _sha256(_NODE + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise LedgerError(
            "inclusion",
            f"the inclusion proof for leaf {index} in a tree of size {size} leads to root "
            f"{r.hex()[:16]}..., not {root.hex()[:16]}...",
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: raise unless ``proof`` shows the tree of ``old_size`` leaves with
    ``old_root`` is a prefix of the tree of ``new_size`` leaves with ``new_root``.

    Edge cases the RFC leaves out: from size 0 (the old root must be the empty root) and
    between equal sizes (the roots must be equal) the proof is empty."""
    _check_int(old_size, "the old size")
    _check_int(new_size, "the new size")
    _check_hash(old_root, "the old root")
    _check_hash(new_root, "the new root")
    path = _check_proof(proof)
    if old_size > new_size:
        raise malformed(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0 or old_size == new_size:
        if path:
            raise LedgerError(
                "consistency",
                f"a consistency proof from size {old_size} to {new_size} is empty, "
                f"this one has {len(path)} hashes",
            )
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise LedgerError("consistency", "the root of the empty tree is SHA-256('')")
        if old_size == new_size and old_root != new_root:
            raise LedgerError("consistency", f"two different roots for the same size {old_size}")
        return
    expected = consistency_proof_length(old_size, new_size)
    if len(path) != expected:
        raise LedgerError(
            "consistency",
            f"the consistency proof has {len(path)} hashes; one from size {old_size} to "
            f"{new_size} has {expected}",
        )
    if old_size & (old_size - 1) == 0:  # an exact power of 2: the old root is a node
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:  # pragma: no cover - excluded by the length check
            raise LedgerError("consistency", "the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE + c + fr).digest()
            sr = _sha256(_NODE + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        which = "old" if fr != old_root else "new"
        raise LedgerError(
            "consistency",
            f"the consistency proof from size {old_size} to {new_size} does not lead to the "
            f"{which} root",
        )
