"""Reading a JSON request body with a size limit, failing in the protocol's own format."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from twinspace.connector.errors import ProtocolError


async def json_body(request: Request, area: str, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProtocolError(area, 413, "PAYLOAD_TOO_LARGE", f"request body exceeds {limit} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > limit:
            raise ProtocolError(
                area, 413, "PAYLOAD_TOO_LARGE", f"request body exceeds {limit} bytes"
            )
    if not chunks:
        raise ProtocolError(
            area, 400, "MALFORMED_JSON", "the request body is empty; a JSON object is required"
        )
    try:
        return json.loads(chunks)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(
            area, 400, "MALFORMED_JSON", f"the request body is not valid JSON: {exc}"
        ) from exc
