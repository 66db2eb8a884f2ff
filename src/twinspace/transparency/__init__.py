"""The transparency log at run time: the log service (run by the authority) and a participant's
submissions. The maths, entries, checkpoints and receipts are ``twinspace.ledger`` (pure)."""

from .log import LOG_SERVICE, LogService, LogServiceError
from .submitter import LogSubmitter

__all__ = ["LOG_SERVICE", "LogService", "LogServiceError", "LogSubmitter"]
