"""Transparency log core (RFC 9162 style), pure and sans-I/O.

The Merkle tree and its inclusion/consistency proofs (:mod:`.merkle`), canonical JSON and the
signed log entries (:mod:`.canonical`, :mod:`.entries`), signed checkpoints with witness
cosignatures (:mod:`.checkpoint`), receipts (:mod:`.receipts`) and the audit that checks a log
against what a participant saw (:mod:`.audit`). No clock: times are passed in. Every refusal is
a :class:`LedgerError` with a ``code``. See docs/ledger.md.
"""

from ._jose import KeyLike
from .audit import AuditReport, KeyResolver, audit
from .canonical import canonical_json, parse_canonical
from .checkpoint import (
    CHECKPOINT_TYP,
    COSIGNATURE_TYP,
    Checkpoint,
    SignedCheckpoint,
    cosign,
    cosigners,
    sign_checkpoint,
    verify_checkpoint,
)
from .entries import (
    CONSENT_STATES,
    DUTY_ACTIONS,
    ENTRY_KINDS,
    ENTRY_TYP,
    TRANSFER_STATES,
    SignedEntry,
    check_entry,
    entry_leaf,
    make_entry,
    read_entry,
    sign_entry,
    verify_entry,
)
from .errors import ERROR_CODES, ErrorCode, LedgerError
from .merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleTree,
    Node,
    consistency_proof_length,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from .receipts import RECEIPT_TYP, Receipt, issue_receipt, read_receipt, verify_receipt

__all__ = [
    "CHECKPOINT_TYP",
    "CONSENT_STATES",
    "COSIGNATURE_TYP",
    "DUTY_ACTIONS",
    "EMPTY_ROOT",
    "ENTRY_KINDS",
    "ENTRY_TYP",
    "ERROR_CODES",
    "HASH_SIZE",
    "RECEIPT_TYP",
    "TRANSFER_STATES",
    "AuditReport",
    "Checkpoint",
    "ErrorCode",
    "KeyLike",
    "KeyResolver",
    "LedgerError",
    "MerkleTree",
    "Node",
    "Receipt",
    "SignedCheckpoint",
    "SignedEntry",
    "audit",
    "canonical_json",
    "check_entry",
    "consistency_proof_length",
    "cosign",
    "cosigners",
    "entry_leaf",
    "inclusion_proof_length",
    "issue_receipt",
    "leaf_hash",
    "make_entry",
    "node_hash",
    "parse_canonical",
    "read_entry",
    "read_receipt",
    "sign_checkpoint",
    "sign_entry",
    "verify_checkpoint",
    "verify_consistency",
    "verify_entry",
    "verify_inclusion",
    "verify_receipt",
]
