"""TrustGate E2's `telemetry` on gateways: validated at the edge, collector headers masked."""

from __future__ import annotations

import pytest

from gateways.models import Gateway
from tests.gateways.test_routing_api import field_errors

URL = "/api/v1/gateways"
OTLP = {"name": "otlp", "settings": {"endpoint": "http://collector:4318", "headers": {"X-T": "s"}}}


def create(api, telemetry: dict):
    return api.post(URL, {"name": "g", "subdomain": "tel", "telemetry": telemetry}, format="json")


@pytest.mark.parametrize(
    ("telemetry", "path"),
    [
        ({"exporters": [{"name": "kafka", "settings": {"endpoint": "http://k:9092"}}]}, "name"),
        ({"exporters": [{"name": "zipkin", "settings": {"endpoint": "http://z"}}]}, "name"),
        ({"exporters": [{"name": "otlp", "settings": {"endpoint": "ftp://c"}}]}, "endpoint"),
        ({"exporters": [{"name": "otlp", "settings": {}}]}, "endpoint"),
        ({"exporters": [{"name": "otlp", "settings": {"endpoint": "http://"}}]}, "endpoint"),
        ({"exporters": [{"name": "otlp", "settings": {"endpoint": "http://u:p@c"}}]}, "endpoint"),
        ({"exporters": [{"name": "otlp", "settings": {"endpoint": "http://c:99999"}}]}, "endpoint"),
        ({"header_mapping": {"user_id": "X-User"}}, "header_mapping.user_id"),
        ({"header_mapping": {"session_id": "bad header"}}, "header_mapping.session_id"),
        ({"extra_params": {"a b": "c"}}, "extra_params.a b"),
        ({"extra_params": {"k": {"nested": 1}}}, "extra_params.k"),
        ({"enable_plugin_traces": "false"}, "enable_plugin_traces"),
        ({"exporter": []}, "exporter"),
    ],
)
def test_invalid_telemetry_is_a_400_naming_the_field(db, api, telemetry, path):
    response = create(api, telemetry)
    if path in ("name", "endpoint"):
        errors = response.json()["fields"]["telemetry"]["exporters"]
        assert path in str(errors), errors
        assert response.status_code == 400
    else:
        field_errors(response, f"telemetry.{path}")


def test_the_kafka_exporter_says_why(db, api):
    response = create(api, {"exporters": [{**OTLP, "name": "kafka"}]})
    assert "kafka exporter is not supported" in str(response.json())


def test_collector_headers_are_masked_and_kept_when_sent_back(db, api):
    created = create(api, {"exporters": [OTLP], "header_mapping": {"session_id": "X-Session"}})
    assert created.status_code == 201, created.json()
    shown = created.json()["telemetry"]
    assert shown["exporters"][0]["settings"]["headers"] == {"X-T": "********"}
    assert shown["enable_request_traces"] is True
    response = api.put(f"{URL}/{created.json()['id']}", {"telemetry": shown}, format="json")
    assert response.status_code == 200, response.json()
    stored = Gateway.objects.get(pk=created.json()["id"]).telemetry
    assert stored["exporters"][0]["settings"]["headers"] == {"X-T": "s"}
    assert stored["header_mapping"] == {"session_id": "X-Session"}
