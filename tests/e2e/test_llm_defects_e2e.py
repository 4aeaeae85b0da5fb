"""The LLM front's defects through a real gunicorn, as real clients see them: a broken provider
stream raises in the `openai` SDK (and breaks a plain client's transfer), and the gateway's own
errors carry their message into the SDK's exceptions."""

from __future__ import annotations

import openai
import pytest
import requests

from tests.builders import provider_target, routed_gateway
from tests.proxy.test_llm_conformance_defects import ANTHROPIC_START, CutServer

pytestmark = pytest.mark.e2e

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def cut_anthropic():
    server = CutServer(ANTHROPIC_START, "text/event-stream").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def front(gateway_server, cut_anthropic):
    return routed_gateway(
        gateway_server.post,
        subdomain="e2e-llm-defects",
        target_dicts=[provider_target(cut_anthropic.port, "claude", "anthropic")],
        path="/v1/*",
    )


def sdk(gateway_server, key: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway_server.base_url}/v1",
        api_key=key,
        default_headers={"Host": "e2e-llm-defects.localhost"},
        max_retries=0,
        timeout=10,
    )


def test_the_openai_sdk_raises_on_a_provider_stream_broken_off(gateway_server, front):
    stream = sdk(gateway_server, front.key).chat.completions.create(
        model="claude", messages=HELLO, stream=True
    )
    received: list[str] = []
    with pytest.raises(openai.APIError, match="broke off"):
        received.extend(chunk.choices[0].delta.content or "" for chunk in stream)
    assert "".join(received) == "Hel"


def test_a_plain_stream_broken_off_is_an_incomplete_body(gateway_server):
    server = CutServer([b"first piece, "], "text/plain").start()
    try:
        gateway = routed_gateway(
            gateway_server.post,
            subdomain="e2e-plain-cut",
            targets=[("127.0.0.1", server.port)],
        )
        headers = {"Host": "e2e-plain-cut.localhost", "X-API-Key": gateway.key}
        received: list[bytes] = []
        url = f"{gateway_server.base_url}/x"
        with requests.post(url, headers=headers, stream=True, timeout=10) as response:
            assert response.status_code == 200
            with pytest.raises(requests.exceptions.ChunkedEncodingError):
                received.extend(response.iter_content(chunk_size=None))
        assert b"".join(received) == b"first piece, "
    finally:
        server.stop()


def test_the_gateways_errors_reach_the_sdks_exceptions(gateway_server, front):
    with pytest.raises(openai.AuthenticationError) as refused:
        sdk(gateway_server, "sk-wrong").chat.completions.create(model="claude", messages=HELLO)
    assert "invalid API key" in str(refused.value)
    assert refused.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as unknown:
        sdk(gateway_server, front.key).chat.completions.create(model="gpt-z", messages=HELLO)
    assert "model 'gpt-z' is not available" in unknown.value.message
    assert unknown.value.param == "model"
