"""``GET /<path>/did.json``: this participant's DID document (did:web, path-based).

The document is built once at start-up (``create_app`` puts the
:class:`~twinspace.trust.participant.ParticipantIdentity` in ``app.state.identity``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from twinspace.connector.service import Connector
from twinspace.trust.participant import ParticipantIdentity, document_path

MEDIA_TYPE = "application/did+json"


def router(connector: Connector) -> APIRouter:
    settings = connector.ctx.settings
    api = APIRouter()

    @api.get(document_path(settings.effective_did(), settings.base_url()), include_in_schema=False)
    async def did_document(request: Request) -> JSONResponse:
        identity: ParticipantIdentity = request.app.state.identity
        return JSONResponse(identity.document, media_type=MEDIA_TYPE)

    return api
