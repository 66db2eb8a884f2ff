"""Fixtures for the twin tests: the Mosquitto broker the MQTT tests use."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from tests.conftest import in_ci

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True)
class MqttBroker:
    host: str
    port: int


def mqtt_url() -> str:
    """The MQTT broker the tests use (``TWINSPACE_TEST_MQTT_URL``)."""
    return os.environ.get("TWINSPACE_TEST_MQTT_URL") or DEFAULT_MQTT_URL


@pytest.fixture(scope="session")
def mqtt_broker() -> MqttBroker:
    """The test broker's host and port; fails in CI when it is unreachable, skips elsewhere."""
    url = mqtt_url()
    parts = urlsplit(url)
    broker = MqttBroker(parts.hostname or "127.0.0.1", parts.port or 1883)
    try:
        with socket.create_connection((broker.host, broker.port), timeout=5):
            pass
    except OSError as exc:
        reason = f"MQTT broker not reachable at {broker.host}:{broker.port} ({exc})"
        if in_ci():
            pytest.fail(
                f"{reason}; CI is set, so the MQTT tests must run, not skip. "
                "Start Mosquitto or set TWINSPACE_TEST_MQTT_URL.",
                pytrace=False,
            )
        pytest.skip(f"{reason}; set TWINSPACE_TEST_MQTT_URL to run the MQTT tests")
    return broker
