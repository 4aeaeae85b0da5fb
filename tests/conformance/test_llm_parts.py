"""The Python `openai` SDK through the gateway under gunicorn: a PDF question to each provider
that reads documents, Bedrock embeddings (Titan, Cohere), and the usage of a passthrough stream
that did not ask for it, in the access log."""

from __future__ import annotations

import json
from urllib.parse import quote

import openai
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.builders import routed_gateway
from tests.conformance.conftest import COST, PRICING, Front
from tests.e2e.test_llm_front_e2e import PROVIDERS, provider_target
from tests.llm_mocks import replies
from tests.llm_mocks.openai import VECTOR
from tests.proxy.test_llm_parts import PDF_PART

pytestmark = pytest.mark.e2e

TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"


def sdk(front: Front) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{front.base_url}/v1",
        api_key=front.key,
        default_headers={"Host": front.host},
        max_retries=0,
        timeout=10,
    )


@pytest.fixture(scope="module")
def client(front):
    return sdk(front)


@pytest.fixture(scope="module")
def parts_front(conformance_server, provider_mock) -> Front:
    """A Bedrock target serving its embeddings models."""
    bedrock = provider_target("bedrock", provider_mock.url)
    bedrock |= {"models": [TITAN, COHERE], "default_model": TITAN, "pricing": PRICING}
    gateway = routed_gateway(
        conformance_server.post, subdomain="conform-parts", target_dicts=[bedrock], path="/v1/*"
    )
    return Front(conformance_server, "conform-parts.localhost", gateway.key)


@pytest.fixture(scope="module")
def passthrough_front(conformance_server, provider_mock) -> Front:
    """An OpenAI passthrough target: the client's own body, the gateway's credentials."""
    target = {**provider_target("openai", provider_mock.url), "mode": "passthrough"}
    gateway = routed_gateway(
        conformance_server.post,
        subdomain="conform-openai-native",
        target_dicts=[{**target, "pricing": PRICING}],
        path="/v1/*",
    )
    return Front(conformance_server, "conform-openai-native.localhost", gateway.key)


@pytest.mark.parametrize("provider", ["anthropic", "google", "bedrock"])
def test_a_pdf_question(client, provider):
    model, _, says, _ = PROVIDERS[provider]
    content = [{"type": "text", "text": "summarise it"}, PDF_PART]
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}]
    )
    assert answer.choices[0].message.content == f"{says} says: summarise it"


def test_audio_to_anthropic_is_refused_naming_the_part(client):
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    content = [{"type": "text", "text": "listen"}, audio]
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=PROVIDERS["anthropic"][0], messages=[{"role": "user", "content": content}]
        )
    assert refused.value.body["param"] == "messages[0].content[1]"
    assert "takes no input_audio parts" in refused.value.message


@pytest.mark.parametrize("model", [TITAN, COHERE])
def test_bedrock_embeddings(parts_front, model):
    request_id = f"conform-bedrock-embed-{model}"
    answer = sdk(parts_front).embeddings.create(
        model=model, input="hello", extra_headers={"X-Request-ID": request_id}
    )
    assert [round(x, 6) for x in answer.data[0].embedding] == VECTOR  # base64 float32s
    assert answer.usage.prompt_tokens == 11
    llm = parts_front.logged(request_id)["llm"]
    assert (llm["provider"], llm["model"], llm["prompt_tokens"]) == ("bedrock", model, 11)
    assert llm["cost"] == pytest.approx(11 * 1.5 / 1_000_000)


def test_a_passthrough_stream_without_include_usage_is_metered(passthrough_front):
    request_id = "conform-passthrough-usage"
    stream = sdk(passthrough_front).chat.completions.create(
        model=PROVIDERS["openai"][0],
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        extra_headers={"X-Request-ID": request_id},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "openai says: count"
    assert all(chunk.choices for chunk in chunks)  # the usage chunk it did not ask for: not sent
    llm = passthrough_front.logged(request_id)["llm"]
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (11, 7)
    assert llm["cost"] == pytest.approx(COST)


def signed_invoke(mock_url: str, model: str, body: dict) -> requests.Response:
    """An InvokeModel request signed as the gateway signs it (botocore's SigV4)."""
    request = AWSRequest(
        method="POST",
        url=f"{mock_url}/model/{quote(model, safe='')}/invoke",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    credentials = Credentials(replies.AWS_ACCESS_KEY_ID, replies.AWS_SECRET_ACCESS_KEY)
    SigV4Auth(credentials, "bedrock", replies.AWS_REGION).add_auth(request)
    prepared = request.prepare()
    return requests.post(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), timeout=5
    )


@pytest.mark.parametrize(
    ("model", "good", "drifted", "named"),
    [
        (TITAN, {"inputText": "x"}, {"inputText": "x", "texts": ["x"]}, "extraneous key"),
        (TITAN, {"inputText": "x"}, {"inputText": "x", "dimensions": 300}, "dimensions"),
        (COHERE, {"texts": ["x"], "input_type": "search_query"}, {"texts": ["x"]}, "input_type"),
    ],
)
def test_the_bedrock_mock_refuses_an_invoke_body_its_model_refuses(
    provider_mock, model, good, drifted, named
):
    assert signed_invoke(provider_mock.url, model, good).status_code == 200
    refused = signed_invoke(provider_mock.url, model, drifted)
    assert refused.status_code == 400
    assert named in refused.json()["message"]
