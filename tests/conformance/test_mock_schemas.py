"""The mocks refuse what the provider's official schema refuses: a translation that drifts fails
the suite (each body below is a good one with one field wrong)."""

from __future__ import annotations

import copy
import json
from urllib.parse import quote

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.test_llm_front_e2e import PROVIDERS
from tests.llm_mocks import replies

GOOD = {
    "/v1/chat/completions": {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "x"}],
    },
    "/v1/messages": {
        "model": "claude-sonnet",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
    },
    "/v1beta/models/gemini-flash:generateContent": {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "generationConfig": {"maxOutputTokens": 8},
    },
}
DRIFTS = [
    ("/v1/chat/completions", ["messages", 0, "name"], 5, "messages.0"),
    ("/v1/chat/completions", ["max_output_tokens"], 8, "max_output_tokens"),
    ("/v1/messages", ["messages", 0, "content", 0, "cache"], True, "TextBlockParam.cache"),
    ("/v1/messages", ["stop"], ["END"], "stop"),
    (
        "/v1beta/models/gemini-flash:generateContent",
        ["generationConfig", "max_tokens"],
        8,
        "max_tokens",
    ),
    ("/v1beta/models/gemini-flash:generateContent", ["system"], "be brief", "system"),
]
HEADERS = {
    "Authorization": f"Bearer {replies.API_KEY}",
    "x-api-key": replies.API_KEY,
    "anthropic-version": "2023-06-01",
    "x-goog-api-key": replies.API_KEY,
}


def drifted(body: dict, where: list, value) -> dict:
    body = copy.deepcopy(body)
    inner = body
    for step in where[:-1]:
        inner = inner[step]
    inner[where[-1]] = value
    return body


@pytest.mark.parametrize(("path", "where", "value", "named"), DRIFTS)
def test_the_mock_refuses_a_field_its_provider_refuses(provider_mock, path, where, value, named):
    url = provider_mock.url + path
    assert requests.post(url, json=GOOD[path], headers=HEADERS, timeout=5).status_code == 200
    refused = requests.post(url, json=drifted(GOOD[path], where, value), headers=HEADERS, timeout=5)
    assert refused.status_code == 400
    assert named in refused.text


def signed_converse(mock_url: str, body: dict) -> requests.Response:
    """A Converse request signed as the gateway signs it (botocore's SigV4)."""
    request = AWSRequest(
        method="POST",
        url=f"{mock_url}/model/{quote(PROVIDERS['bedrock'][0], safe='')}/converse",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    credentials = Credentials(replies.AWS_ACCESS_KEY_ID, replies.AWS_SECRET_ACCESS_KEY)
    SigV4Auth(credentials, "bedrock", replies.AWS_REGION).add_auth(request)
    prepared = request.prepare()
    return requests.post(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), timeout=5
    )


def test_the_bedrock_mock_refuses_a_field_its_service_model_refuses(provider_mock):
    body = {"messages": [{"role": "user", "content": [{"text": "x"}]}]}
    assert signed_converse(provider_mock.url, body).status_code == 200
    refused = signed_converse(provider_mock.url, {**body, "max_tokens": 8})
    assert refused.status_code == 400
    assert 'Unknown parameter in input: "max_tokens"' in refused.json()["message"]
