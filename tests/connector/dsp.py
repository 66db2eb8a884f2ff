"""Helpers to speak raw DSP to a node in tests."""

from __future__ import annotations

from typing import Any

from twinspace.protocol.schemas import DSPACE_CONTEXT

CTX = [DSPACE_CONTEXT]


def catalog_request(**extra: Any) -> dict[str, Any]:
    return {"@context": CTX, "@type": "CatalogRequestMessage", **extra}


def contract_request(
    consumer_pid: str, offer: dict[str, Any], callback: str = "http://consumer.test/dsp"
) -> dict[str, Any]:
    return {
        "@context": CTX,
        "@type": "ContractRequestMessage",
        "consumerPid": consumer_pid,
        "offer": offer,
        "callbackAddress": callback,
    }


def pid_message(kind: str, provider_pid: str, consumer_pid: str, **extra: Any) -> dict[str, Any]:
    return {
        "@context": CTX,
        "@type": kind,
        "providerPid": provider_pid,
        "consumerPid": consumer_pid,
        **extra,
    }
