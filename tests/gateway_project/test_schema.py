"""The admin API's OpenAPI schema as an operator reads it in Swagger UI."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

WRITE_METHODS = {"post", "put", "patch"}


@pytest.fixture
def schema(anonymous_api) -> dict[str, Any]:
    response = anonymous_api.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def descriptions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield value
            yield from descriptions(value)
    elif isinstance(node, list):
        for item in node:
            yield from descriptions(item)


def test_the_admin_token_is_a_bearer_security_scheme(schema):
    assert schema["components"]["securitySchemes"]["adminToken"]["type"] == "http"
    assert schema["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"
    for _, _, operation in operations(schema):
        assert {"adminToken": []} in operation["security"]


def test_the_docs_page_and_schema_are_readable_without_credentials(anonymous_api):
    docs = anonymous_api.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_a_token_sent_as_the_scheme_says_is_accepted(schema, anonymous_api, admin_token):
    assert schema["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert anonymous_api.get("/api/v1/gateways").status_code == 200


def test_error_answers_are_documented_with_the_json_error_shape(schema):
    error = {"$ref": "#/components/schemas/Error"}
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        assert responses["401"]["content"]["application/json"]["schema"] == error
        if "{" in path:
            assert responses["404"]["content"]["application/json"]["schema"] == error
        if method in WRITE_METHODS and "requestBody" in operation:
            body = responses["400"]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ValidationError"}
    gateway_create = schema["paths"]["/api/v1/gateways/"]["post"]["responses"]
    assert gateway_create["409"]["content"]["application/json"]["schema"] == error
    assert set(schema["components"]["schemas"]["ValidationError"]["properties"]) == {
        "error",
        "fields",
    }


def test_a_taken_service_name_is_a_documented_409(schema):
    services = "/api/v1/gateways/{gateway_id}/services/"
    writes = [(services, "post"), *((services + "{object_id}/", m) for m in ("put", "patch"))]
    for path, method in writes:
        assert "409" in schema["paths"][path][method]["responses"], (path, method)


def test_the_plugin_catalogue_is_a_list(schema):
    response = schema["paths"]["/api/v1/plugins"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/PluginCatalogueEntry"},
    }


def test_only_json_bodies_are_advertised(schema):
    for _, _, operation in operations(schema):
        if "requestBody" in operation:
            assert set(operation["requestBody"]["content"]) == {"application/json"}


def test_rotate_takes_no_body(schema):
    rotate = schema["paths"]["/api/v1/gateways/{gateway_id}/keys/{object_id}/rotate/"]["post"]
    assert "requestBody" not in rotate


def test_no_code_docstring_leaks_into_descriptions(schema):
    from gateway_project import urls

    classes = set()
    for pattern in urls.router.urls:
        view = pattern.callback.cls
        classes |= set(inspect.getmro(view)) | {view.serializer_class}
    classes |= {urls.PluginsView, urls.VersionView}
    docstrings = {inspect.getdoc(cls).splitlines()[0] for cls in classes if cls.__doc__}
    texts = list(descriptions(schema))
    assert texts
    leaked = {doc for doc in docstrings for text in texts if doc in text}
    assert not leaked


def test_the_plugin_writes_are_documented_with_their_bodies(schema):
    plugins = schema["paths"]["/api/v1/plugins"]
    for method, body in (
        ("post", "PluginsAdd"),
        ("put", "PluginsUpdate"),
        ("delete", "PluginsDelete"),
    ):
        operation = plugins[method]
        content = operation["requestBody"]["content"]["application/json"]["schema"]
        assert content == {"$ref": f"#/components/schemas/{body}"}
        assert {"204", "400", "401", "404"} <= set(operation["responses"])
        assert "content" not in operation["responses"]["204"]


def test_put_documents_a_partial_body(schema):
    for path in (
        "/api/v1/gateways/{gateway_id}/",
        "/api/v1/gateways/{gateway_id}/rules/{object_id}/",
    ):
        body = schema["paths"][path]["put"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"].startswith("#/components/schemas/Patched")


def test_version_and_public_keys_are_documented(schema):
    version = schema["paths"]["/api/v1/version"]["get"]["responses"]["200"]
    assert version["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Version"
    }
    public = schema["paths"]["/api/v1/gateways/{gateway_id}/public-keys/"]["get"]
    listed = public["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    shape = schema["components"]["schemas"][listed.rpartition("/")[2]]
    assert shape["required"] == ["api_keys", "count"]
