"""The data plane: tokens bound to transfers, asset sources, HTTP pull and push.

- ``tokens``: short-lived bearer tokens that work only while their transfer is STARTED;
- ``open_source``: an asset's data (``File``, ``HttpData``) as a stream of chunks;
- ``pull_to_file`` / ``edr_from``: the consumer fetching a pull transfer's data;
- ``pusher_for``: the provider's pusher for push transfers (run by the outbound manager).

The public HTTP endpoints (``/public/...``) live in ``twinspace.api.public``.
"""

from twinspace.dataplane import tokens
from twinspace.dataplane.pull import Edr, PullError, edr_from, pull_to_file, refresh_edr
from twinspace.dataplane.push import PushError, push, pusher_for
from twinspace.dataplane.sources import (
    CHUNK_SIZE,
    SUPPORTED_TYPES,
    SourceError,
    SourceStream,
    open_source,
)
from twinspace.dataplane.tokens import IssuedTokens, TokenRefused

__all__ = [
    "CHUNK_SIZE",
    "SUPPORTED_TYPES",
    "Edr",
    "IssuedTokens",
    "PullError",
    "PushError",
    "SourceError",
    "SourceStream",
    "TokenRefused",
    "edr_from",
    "open_source",
    "pull_to_file",
    "push",
    "pusher_for",
    "refresh_edr",
    "tokens",
]
