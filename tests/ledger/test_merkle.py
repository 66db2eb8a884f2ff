"""The incremental tree and the RFC 9162 verifiers against the naive recursive reference."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from twinspace.ledger import (
    EMPTY_ROOT,
    LedgerError,
    MerkleTree,
    Node,
    consistency_proof_length,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

from . import reference as ref

MAX = 2000
LEAVES = [leaf_hash(f"entry-{i}".encode()) for i in range(MAX)]
TREE = MerkleTree.from_leaves(LEAVES)
ROOTS: dict[int, bytes] = {}

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def root_of(size: int) -> bytes:
    if size not in ROOTS:
        ROOTS[size] = ref.mth(LEAVES[:size])
    return ROOTS[size]


sizes = st.integers(min_value=1, max_value=MAX)


@st.composite
def size_and_index(draw: Any) -> tuple[int, int]:
    size = draw(sizes)
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def two_sizes(draw: Any) -> tuple[int, int]:
    new = draw(st.integers(min_value=2, max_value=MAX))
    return draw(st.integers(min_value=1, max_value=new - 1)), new


def flip(proof: list[bytes], which: int, byte: int, bit: int) -> list[bytes]:
    target = bytearray(proof[which])
    target[byte] ^= 1 << bit
    return [*proof[:which], bytes(target), *proof[which + 1 :]]


# -- known values -------------------------------------------------------------------------------


def test_empty_and_single_leaf() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert MerkleTree().root() == EMPTY_ROOT
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    tree = MerkleTree()
    tree.append(leaf_hash(b"x"))
    assert tree.root() == leaf_hash(b"x")
    assert tree.inclusion_proof(0, 1) == []
    verify_inclusion(leaf_hash(b"x"), 0, 1, [], leaf_hash(b"x"))
    tree.append(leaf_hash(b"y"))
    assert tree.root() == node_hash(leaf_hash(b"x"), leaf_hash(b"y"))
    assert tree.root() == hashlib.sha256(b"\x01" + leaf_hash(b"x") + leaf_hash(b"y")).digest()


# The RFC 6962 test vectors of the certificate-transparency reference implementations.
VECTOR_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
VECTOR_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_known_roots() -> None:
    tree = MerkleTree.from_leaves(leaf_hash(d) for d in VECTOR_LEAVES)
    assert [tree.root(n).hex() for n in range(1, 9)] == VECTOR_ROOTS


# -- the tree against the reference ----------------------------------------------------------------


@FAST
@given(size=st.integers(min_value=0, max_value=MAX))
def test_roots_match_reference(size: int) -> None:
    assert TREE.root(size) == root_of(size)


@FAST
@given(size_and_index())
def test_inclusion_proofs_match_reference_and_verify(case: tuple[int, int]) -> None:
    size, index = case
    proof = TREE.inclusion_proof(index, size)
    assert proof == ref.path(index, LEAVES[:size])
    assert len(proof) == inclusion_proof_length(index, size)
    verify_inclusion(LEAVES[index], index, size, proof, root_of(size))


@FAST
@given(two_sizes())
def test_consistency_proofs_match_reference_and_verify(case: tuple[int, int]) -> None:
    old, new = case
    proof = TREE.consistency_proof(old, new)
    assert proof == ref.proof(old, LEAVES[:new])
    assert len(proof) == consistency_proof_length(old, new)
    verify_consistency(old, new, root_of(old), root_of(new), proof)
    assert ref.accepts_consistency(old, new, root_of(old), root_of(new), proof)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=300))
def test_incremental_tree_answers_every_earlier_size(size: int) -> None:
    tree = MerkleTree()
    for i in range(size):
        assert tree.append(LEAVES[i]) == i
        assert tree.root() == root_of(i + 1)
    for old in range(0, size + 1, max(1, size // 7)):
        assert tree.root(old) == root_of(old)
        verify_consistency(old, size, root_of(old), tree.root(), tree.consistency_proof(old, size))


def test_zero_and_equal_sizes() -> None:
    assert TREE.consistency_proof(0, 10) == []
    assert TREE.consistency_proof(10, 10) == []
    verify_consistency(0, 10, EMPTY_ROOT, root_of(10), [])
    verify_consistency(10, 10, root_of(10), root_of(10), [])
    with pytest.raises(LedgerError) as err:
        verify_consistency(0, 10, root_of(3), root_of(10), [])
    assert err.value.code == "consistency"
    with pytest.raises(LedgerError) as err:
        verify_consistency(10, 10, root_of(10), root_of(9), [])
    assert err.value.code == "consistency"
    with pytest.raises(LedgerError):
        verify_consistency(10, 10, root_of(10), root_of(10), [root_of(10)])


# -- tampered proofs are refused -------------------------------------------------------------------


@FAST
@given(size_and_index(), st.data())
def test_inclusion_refuses_any_flipped_bit(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    proof = TREE.inclusion_proof(index, size)
    root = root_of(size)
    byte, bit = data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7))
    target = data.draw(st.integers(0, len(proof) + 1))
    leaf, bad_root = LEAVES[index], root
    if target < len(proof):
        proof = flip(proof, target, byte, bit)
    elif target == len(proof):
        leaf = flip([leaf], 0, byte, bit)[0]
    else:
        bad_root = flip([root], 0, byte, bit)[0]
    with pytest.raises(LedgerError) as err:
        verify_inclusion(leaf, index, size, proof, bad_root)
    assert err.value.code == "inclusion"


@FAST
@given(size_and_index(), st.data())
def test_inclusion_refuses_wrong_index(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    assume(size > 1)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    with pytest.raises(LedgerError) as err:
        verify_inclusion(
            LEAVES[index], other, size, TREE.inclusion_proof(index, size), root_of(size)
        )
    assert err.value.code == "inclusion"


@FAST
@given(size_and_index(), st.data())
def test_inclusion_wrong_size_refused_unless_same_shape(
    case: tuple[int, int], data: st.DataObject
) -> None:
    """A proof does not bind the tree size on its own: where PATH(index, D[n']) has the same
    shape as PATH(index, D[n]) (e.g. leaf 0 in sizes 3 and 4), the recomputed root is the same.
    The checkpoint's signature binds size and root together. Everywhere else it is refused, and
    the fast verifier agrees with the recursive reading of the definition in every case."""
    size, index = case
    other = data.draw(st.integers(index + 1, MAX).filter(lambda n: n != size))
    proof, root = TREE.inclusion_proof(index, size), root_of(size)
    accepted = ref.accepts_inclusion(LEAVES[index], index, other, proof, root)
    if accepted:
        verify_inclusion(LEAVES[index], index, other, proof, root)
    else:
        with pytest.raises(LedgerError) as err:
            verify_inclusion(LEAVES[index], index, other, proof, root)
        assert err.value.code == "inclusion"
    if len(proof) != inclusion_proof_length(index, other):
        assert not accepted


def test_inclusion_same_shape_example() -> None:
    proof = TREE.inclusion_proof(0, 3)
    verify_inclusion(LEAVES[0], 0, 4, proof, root_of(3))  # same shape, same arithmetic
    with pytest.raises(LedgerError):
        verify_inclusion(LEAVES[0], 0, 5, proof, root_of(3))


@FAST
@given(size_and_index(), st.booleans())
def test_inclusion_refuses_truncated_or_extended(case: tuple[int, int], extend: bool) -> None:
    size, index = case
    proof = TREE.inclusion_proof(index, size)
    if extend:
        proof = [*proof, LEAVES[0]]
    else:
        assume(proof)
        proof = proof[:-1]
    with pytest.raises(LedgerError) as err:
        verify_inclusion(LEAVES[index], index, size, proof, root_of(size))
    assert err.value.code == "inclusion"
    assert "hashes" in err.value.message


@FAST
@given(two_sizes(), st.data())
def test_consistency_refuses_any_flipped_bit(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    proof = TREE.consistency_proof(old, new)
    old_root, new_root = root_of(old), root_of(new)
    byte, bit = data.draw(st.integers(0, 31)), data.draw(st.integers(0, 7))
    target = data.draw(st.integers(0, len(proof) + 1))
    if target < len(proof):
        proof = flip(proof, target, byte, bit)
    elif target == len(proof):
        old_root = flip([old_root], 0, byte, bit)[0]
    else:
        new_root = flip([new_root], 0, byte, bit)[0]
    with pytest.raises(LedgerError) as err:
        verify_consistency(old, new, old_root, new_root, proof)
    assert err.value.code == "consistency"


@FAST
@given(two_sizes(), st.data())
def test_consistency_refuses_wrong_sizes(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    proof, old_root, new_root = TREE.consistency_proof(old, new), root_of(old), root_of(new)
    if new > 2:
        wrong_old = data.draw(st.integers(1, new - 1).filter(lambda m: m != old))
        with pytest.raises(LedgerError):
            verify_consistency(wrong_old, new, old_root, new_root, proof)
    wrong_new = data.draw(st.integers(old + 1, MAX).filter(lambda n: n != new))
    accepted = ref.accepts_consistency(old, wrong_new, old_root, new_root, proof)
    if accepted:  # same shape, as for inclusion proofs: the checkpoint binds the size
        verify_consistency(old, wrong_new, old_root, new_root, proof)
    else:
        with pytest.raises(LedgerError):
            verify_consistency(old, wrong_new, old_root, new_root, proof)


@FAST
@given(two_sizes(), st.booleans())
def test_consistency_refuses_truncated_or_extended(case: tuple[int, int], extend: bool) -> None:
    old, new = case
    proof = TREE.consistency_proof(old, new)
    proof = [*proof, LEAVES[0]] if extend else proof[:-1]
    with pytest.raises(LedgerError) as err:
        verify_consistency(old, new, root_of(old), root_of(new), proof)
    assert err.value.code == "consistency"


# -- malformed input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        (b"short", 0, 1, [], EMPTY_ROOT),
        ("not bytes", 0, 1, [], EMPTY_ROOT),
        (LEAVES[0], 1, 1, [], EMPTY_ROOT),
        (LEAVES[0], -1, 3, [], EMPTY_ROOT),
        (LEAVES[0], True, 3, [], EMPTY_ROOT),
        (LEAVES[0], 0, 2, [b"x" * 31], EMPTY_ROOT),
        (LEAVES[0], 0, 2, b"x" * 32, EMPTY_ROOT),
        (LEAVES[0], 0, 2, None, EMPTY_ROOT),
        (LEAVES[0], 0, 2, [LEAVES[1]], b"root"),
        (LEAVES[0], 0, "2", [LEAVES[1]], EMPTY_ROOT),
    ],
)
def test_verify_inclusion_malformed(args: tuple[Any, ...]) -> None:
    with pytest.raises(LedgerError) as err:
        verify_inclusion(*args)
    assert err.value.code == "malformed"


@pytest.mark.parametrize(
    "args",
    [
        (5, 3, EMPTY_ROOT, EMPTY_ROOT, []),
        (-1, 3, EMPTY_ROOT, EMPTY_ROOT, []),
        (1, 3, b"", EMPTY_ROOT, []),
        (1, 3, EMPTY_ROOT, EMPTY_ROOT, [1, 2]),
        (1, 3, EMPTY_ROOT, EMPTY_ROOT, "ab"),
        (1.0, 3, EMPTY_ROOT, EMPTY_ROOT, []),
    ],
)
def test_verify_consistency_malformed(args: tuple[Any, ...]) -> None:
    with pytest.raises(LedgerError) as err:
        verify_consistency(*args)
    assert err.value.code == "malformed"


def test_tree_refuses_bad_arguments() -> None:
    tree = MerkleTree.from_leaves(LEAVES[:5])
    for call in (
        lambda: tree.append(b"x"),
        lambda: tree.append("x" * 32),  # type: ignore[arg-type]
        lambda: tree.root(6),
        lambda: tree.root(-1),
        lambda: tree.leaf(5),
        lambda: tree.node(3, 0),
        lambda: tree.node(1, 2),
        lambda: tree.inclusion_proof(5, 5),
        lambda: tree.inclusion_proof(0, 6),
        lambda: tree.consistency_proof(4, 3),
        lambda: tree.consistency_proof(1, 6),
        lambda: leaf_hash("text"),  # type: ignore[arg-type]
        lambda: node_hash(LEAVES[0], b""),
    ):
        with pytest.raises(LedgerError) as err:
            call()
        assert err.value.code == "malformed"


# -- persistence helpers -----------------------------------------------------------------------------


def test_nodes_round_trip_and_new_nodes() -> None:
    tree = MerkleTree()
    stored: list[Node] = []
    for i in range(37):
        index = tree.append(LEAVES[i])
        stored.extend(tree.new_nodes(index))
    assert sorted(stored, key=lambda n: (n.level, n.index)) == list(tree.nodes())
    assert tree.new_nodes(7) == [
        Node(0, 7, LEAVES[7]),
        Node(1, 3, tree.node(1, 3)),
        Node(2, 1, tree.node(2, 1)),
        Node(3, 0, ref.mth(LEAVES[:8])),
    ]
    rebuilt = MerkleTree.from_nodes(reversed(stored))
    assert rebuilt.size == 37 and rebuilt.root() == tree.root() == root_of(37)
    assert list(rebuilt.leaves()) == LEAVES[:37]
    assert rebuilt.inclusion_proof(20, 37) == ref.path(20, LEAVES[:37])
    rebuilt.append(LEAVES[37])
    assert rebuilt.root() == root_of(38)
    assert MerkleTree.from_nodes([]).root() == EMPTY_ROOT


def test_from_nodes_refuses_incomplete_sets() -> None:
    nodes = list(MerkleTree.from_leaves(LEAVES[:8]).nodes())
    for broken in (nodes[:-1], [*nodes, nodes[3]], [*nodes, (9, 0, LEAVES[0])], [("x",)]):
        with pytest.raises(LedgerError) as err:
            MerkleTree.from_nodes(broken)  # type: ignore[arg-type]
        assert err.value.code == "malformed"


anything = st.one_of(
    st.none(),
    st.integers(-3, 3000),
    st.binary(max_size=40),
    st.text(max_size=5),
    st.lists(st.binary(min_size=32, max_size=32), max_size=3),
    st.lists(st.integers(), max_size=3),
)


@FAST
@given(anything, anything, anything, anything, anything)
def test_verifiers_only_raise_ledger_errors(a: Any, b: Any, c: Any, d: Any, e: Any) -> None:
    for call in (
        lambda: verify_inclusion(a, b, c, d, e),
        lambda: verify_consistency(a, b, c, d, e),
    ):
        with contextlib.suppress(LedgerError):
            call()
