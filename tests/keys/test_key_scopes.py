"""Keys scoped to rules (TrustGate E2's `policies`: 401 unauthorized elsewhere) and keys, rules
and gateways scoped to models (403 `model_not_allowed` on every LLM endpoint, passthrough bodies
and URL paths included; `GET /v1/models` lists only what the key may use)."""

from __future__ import annotations

import json
import uuid

import openai
import pytest

from tests.builders import created, in_process_post, provider_target, routed_gateway
from tests.llm_mocks import replies
from tests.llm_mocks.server import LLMMockServer

ALLOWED = "gpt-4o-mini"
REFUSED = "gpt-4o"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def keys_url(gateway_id: str) -> str:
    return f"/api/v1/gateways/{gateway_id}/keys"


def new_key(api, gateway_id: str, **scopes) -> str:
    response = api.post(keys_url(gateway_id), {"name": "scoped", **scopes}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["key"]


def proxy_post(proxy_client, path: str, body: dict, key: str, host: str = "llm.localhost"):
    return proxy_client.post(
        path,
        json.dumps(body),
        content_type="application/json",
        HTTP_HOST=host,
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def two_models(mock: LLMMockServer, **extra) -> dict:
    return provider_target(
        mock.port,
        model=ALLOWED,
        models=[ALLOWED, REFUSED, "text-embedding-3-small"],
        credentials={"api_key": replies.API_KEY},
        **extra,
    )


def assert_model_refused(response, model: str) -> None:
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert error["code"] == "model_not_allowed"
    assert error["type"] == "permission_error"
    assert repr(model) in error["message"]


# --- rules (TrustGate E2) ----------------------------------------------------------------------


@pytest.fixture
def two_rules(transactional_db, api, upstream):
    """Gateway `e2` with rules /a/* and /b/* to the same echo upstream."""
    routed = routed_gateway(
        in_process_post(api), subdomain="e2", targets=[("127.0.0.1", upstream.port)], path="/a/*"
    )
    other = created(
        in_process_post(api),
        f"/api/v1/gateways/{routed.id}/rules",
        {"path": "/b/*", "methods": ["GET"], "service_id": routed.service["id"]},
    )
    return routed, other


def test_a_key_with_policies_may_use_only_their_rules(api, proxy_client, two_rules):
    routed, other = two_rules
    key = new_key(api, routed.id, policies=[routed.rule["id"]])

    def get(path: str):
        return proxy_client.get(path, HTTP_HOST="e2.localhost", HTTP_X_TG_API_KEY=key)

    assert get("/a/x").status_code == 200
    refused = get("/b/x")
    assert refused.status_code == 401
    assert refused.json() == {"error": "unauthorized"}
    # PUT /{key_id}/policies (E2) widens it; [] means every rule.
    key_id = api.get(keys_url(routed.id)).json()["results"][0]["id"]
    response = api.put(
        f"{keys_url(routed.id)}/{key_id}/policies",
        {"policies": [routed.rule["id"], other["id"]]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["policies"]) == sorted([routed.rule["id"], other["id"]])
    assert get("/b/x").status_code == 200


def test_trustgate_e2_iam_keys_scoped_to_rules(api, proxy_client, two_rules):
    routed, other = two_rules
    created_key = api.post(
        "/api/v1/iam/api-keys",
        {
            "name": "e2",
            "expires_at": "2099-12-31T23:59:59Z",
            "subject_type": "gateway",
            "subject": routed.id,
            "policies": [routed.rule["id"]],
        },
        format="json",
    )
    assert created_key.status_code == 201, created_key.json()
    body = created_key.json()
    assert (body["subject_type"], body["subject"], body["gateway_id"]) == (
        "gateway",
        routed.id,
        routed.id,
    )
    assert body["policies"] == [routed.rule["id"]]

    def get(path: str):
        return proxy_client.get(path, HTTP_HOST="e2.localhost", HTTP_X_TG_API_KEY=body["key"])

    assert get("/a/x").status_code == 200
    assert get("/b/x").status_code == 401
    assert get("/b/x").json() == {"error": "unauthorized"}
    url = f"/api/v1/iam/api-keys/{body['id']}"
    assert api.get(url).json()["policies"] == [routed.rule["id"]]
    listed = api.get("/api/v1/iam/api-keys/public", {"subject_id": routed.id}).json()
    assert body["id"] in [key["id"] for key in listed]
    assert all(key["key"].endswith("...") for key in listed)
    widened = api.put(f"{url}/policies", {"policies": [other["id"]]}, format="json")
    assert widened.status_code == 200, widened.json()
    assert get("/b/x").status_code == 200
    assert get("/a/x").status_code == 401
    for payload, field in (
        ({"name": "x", "subject": routed.id, "subject_type": "engine"}, "subject_type"),
        ({"name": "x", "subject": "nope"}, "subject"),
        ({"name": "x", "subject": routed.id, "policies": [str(uuid.uuid4())]}, "policies"),
    ):
        refused = api.post("/api/v1/iam/api-keys", payload, format="json")
        assert refused.status_code == 400, payload
        assert field in refused.json()["fields"]
    assert api.delete(url).status_code == 204
    assert get("/a/x").json() == {"error": "invalid API key"}


def test_policies_naming_another_gateways_rule_are_400(api, two_rules):
    routed, _ = two_rules
    foreign = routed_gateway(in_process_post(api), subdomain="e2-other", targets=[("h", 80)])
    response = api.post(
        keys_url(routed.id), {"name": "k", "policies": [foreign.rule["id"]]}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert foreign.rule["id"] in str(response.json()["fields"]["policies"]), response.json()


def test_scopes_and_budgets_are_validated_at_the_edge(api, two_rules):
    routed, _ = two_rules
    for field, value in (
        ("allowed_models", [" gpt"]),
        ("allowed_models", "gpt"),
        ("allowed_models", [""]),
        ("budget_duration", "monthly"),
        ("max_budget_usd", -1),
        ("policies", ["not-a-uuid"]),
    ):
        response = api.post(keys_url(routed.id), {"name": "k", field: value}, format="json")
        assert response.status_code == 400, (field, value)
        assert field in response.json()["fields"], response.json()


# --- models, in process ------------------------------------------------------------------------


@pytest.fixture
def mock():
    server = LLMMockServer().start()
    yield server
    server.stop()


@pytest.fixture
def front(transactional_db, api, mock):
    return routed_gateway(
        in_process_post(api), subdomain="llm", target_dicts=[two_models(mock)], path="/v1/*"
    )


def test_a_model_outside_the_keys_list_is_403_on_chat_and_embeddings(
    api, proxy_client, front, mock
):
    key = new_key(api, front.id, allowed_models=["gpt-4o-mini", "text-embedding-*"])
    allowed = proxy_post(proxy_client, "/v1/chat/completions", {**CHAT, "model": ALLOWED}, key)
    assert allowed.status_code == 200, allowed.content
    sent = len(mock.seen)
    assert_model_refused(
        proxy_post(proxy_client, "/v1/chat/completions", {**CHAT, "model": REFUSED}, key), REFUSED
    )
    embeddings = {"model": "text-embedding-3-small", "input": "hi"}
    assert proxy_post(proxy_client, "/v1/embeddings", embeddings, key).status_code == 200
    assert_model_refused(
        proxy_post(proxy_client, "/v1/embeddings", {**embeddings, "model": REFUSED}, key),
        REFUSED,
    )
    assert len(mock.seen) == sent + 1  # only the allowed embeddings call reached the provider


def test_models_list_shows_only_the_models_the_key_may_use(api, proxy_client, front):
    key = new_key(api, front.id, allowed_models=["gpt-4o*"])
    listed = proxy_client.get("/v1/models", HTTP_HOST="llm.localhost", HTTP_X_API_KEY=key)
    assert [m["id"] for m in listed.json()["data"]] == [ALLOWED, REFUSED]
    narrow = new_key(api, front.id, allowed_models=[ALLOWED])
    listed = proxy_client.get("/v1/models", HTTP_HOST="llm.localhost", HTTP_X_API_KEY=narrow)
    assert [m["id"] for m in listed.json()["data"]] == [ALLOWED]


def test_the_rules_and_the_gateways_lists_apply_too(api, proxy_client, front):
    base = f"/api/v1/gateways/{front.id}"
    body = {**CHAT, "model": REFUSED}
    assert proxy_post(proxy_client, "/v1/chat/completions", body, front.key).status_code == 200
    rule = api.patch(f"{base}/rules/{front.rule['id']}", {"allowed_models": [ALLOWED]}, "json")
    assert rule.status_code == 200, rule.json()
    assert_model_refused(proxy_post(proxy_client, "/v1/chat/completions", body, front.key), REFUSED)
    api.patch(f"{base}/rules/{front.rule['id']}", {"allowed_models": []}, format="json")
    gateway = api.patch(base, {"allowed_models": ["gpt-4o-m*"]}, format="json")
    assert gateway.status_code == 200, gateway.json()
    assert_model_refused(proxy_post(proxy_client, "/v1/chat/completions", body, front.key), REFUSED)
    ok = proxy_post(proxy_client, "/v1/chat/completions", {**CHAT, "model": ALLOWED}, front.key)
    assert ok.status_code == 200


def test_a_fallback_targets_default_model_outside_the_list_is_refused(
    api, proxy_client, transactional_db
):
    failing, fallback = LLMMockServer().start(), LLMMockServer().start()
    try:
        failing.fail_status = 503
        routed = routed_gateway(
            in_process_post(api),
            subdomain="llm",
            target_dicts=[
                two_models(failing, priority=0),
                provider_target(
                    fallback.port, model=REFUSED, credentials={"api_key": replies.API_KEY}
                )
                | {"priority": 1},
            ],
            path="/v1/*",
        )
        key = new_key(api, routed.id, allowed_models=[ALLOWED])
        answer = proxy_post(proxy_client, "/v1/chat/completions", {**CHAT, "model": ALLOWED}, key)
        assert_model_refused(answer, REFUSED)
        assert len(failing.seen) == 1
        assert fallback.seen == []
    finally:
        failing.stop()
        fallback.stop()


@pytest.mark.parametrize(
    ("provider", "path", "model"),
    [
        ("gemini", "/v1beta/models/gemini-pro:generateContent", "gemini-pro"),
        ("azure", "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21", "prod-4o"),
        ("openai", "/v1/chat/completions", REFUSED),
    ],
)
def test_passthrough_bodies_and_model_paths_are_checked(
    api, proxy_client, mock, transactional_db, provider, path, model
):
    target = provider_target(
        mock.port,
        model=model,
        provider=provider,
        credentials={"api_key": replies.API_KEY},
        mode="passthrough",
    )
    if provider == "azure":
        target["api_version"] = "2024-10-21"
    routed = routed_gateway(in_process_post(api), subdomain="llm", target_dicts=[target], path="/*")
    key = new_key(api, routed.id, allowed_models=["only-this-one"])
    body = {"model": model, **CHAT} if provider == "openai" else {"contents": []}
    assert_model_refused(proxy_post(proxy_client, path, body, key), model)
    allowed = new_key(api, routed.id, allowed_models=[model])
    assert proxy_post(proxy_client, path, body, allowed).status_code != 403
    names_none = proxy_post(proxy_client, "/v1/other", {}, key)
    assert names_none.status_code == 403
    assert names_none.json()["error"]["code"] == "model_not_allowed"


# --- the OpenAI SDK through gunicorn --------------------------------------------------------------


@pytest.fixture(scope="module")
def sdk_mock():
    server = LLMMockServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sdk_fronts(gateway_server, sdk_mock):
    """An OpenAI-compatible front and a passthrough rule, each with a key allowed one model."""
    fronts = {}
    for name, extra, path in (
        ("sdk-front", {}, "/v1/*"),
        ("sdk-pass", {"mode": "passthrough"}, "/*"),
    ):
        routed = routed_gateway(
            gateway_server.post,
            subdomain=name,
            target_dicts=[two_models(sdk_mock, **extra)],
            path=path,
        )
        key = created(
            gateway_server.post,
            f"/api/v1/gateways/{routed.id}/keys",
            {"name": "one-model", "allowed_models": [ALLOWED, "text-embedding-3-small"]},
        )["key"]
        fronts[name] = openai.OpenAI(
            base_url=f"{gateway_server.base_url}/v1",
            api_key=key,
            default_headers={"Host": f"{name}.localhost"},
            max_retries=0,
            timeout=10,
        )
    return fronts


def test_the_openai_sdk_gets_permission_denied_on_every_endpoint(sdk_fronts):
    front, passthrough = sdk_fronts["sdk-front"], sdk_fronts["sdk-pass"]
    message = f"model {REFUSED!r} is not allowed for this API key"
    calls = (
        lambda: front.chat.completions.create(model=REFUSED, messages=CHAT["messages"]),
        lambda: front.embeddings.create(model=REFUSED, input="hi"),
        lambda: front.responses.create(model=REFUSED, input="hi"),
        lambda: passthrough.chat.completions.create(model=REFUSED, messages=CHAT["messages"]),
    )
    for call in calls:
        with pytest.raises(openai.PermissionDeniedError) as refused:
            call()
        assert refused.value.body["message"] == message
        assert refused.value.code == "model_not_allowed"
    answer = front.chat.completions.create(model=ALLOWED, messages=CHAT["messages"])
    assert answer.model == ALLOWED
    assert front.responses.create(model=ALLOWED, input="hi").model == ALLOWED


def test_the_openai_sdks_models_list_shows_only_allowed_models(sdk_fronts):
    listed = [model.id for model in sdk_fronts["sdk-front"].models.list()]
    assert listed == [ALLOWED, "text-embedding-3-small"]
