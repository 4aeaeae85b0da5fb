"""Content parts beyond text and images (a PDF `file`, `input_audio`) in each provider's form,
or a 400 naming the part where the provider takes none, on the real proxy path against the
schema-checking mock providers."""

from __future__ import annotations

import base64
import json

import pytest

from plugins.sdk.sse import SSEParser
from tests.builders import in_process_post, llm_chat, routed_gateway
from tests.e2e.test_llm_front_e2e import PROVIDERS
from tests.e2e.test_llm_front_e2e import provider_target as front_target
from tests.llm_mocks.openai import VECTOR
from tests.proxy.test_llm_conformance_defects import request_lines


@pytest.fixture
def access_log_file(settings, tmp_path):
    path = tmp_path / "access.log"
    settings.GATEWAY = {**settings.GATEWAY, "ACCESS_LOG": str(path)}
    return path


HELLO = [{"role": "user", "content": "hi"}]
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PDF_DATA = base64.b64encode(PDF_BYTES).decode()
PDF_PART = {
    "type": "file",
    "file": {"filename": "report.v2.pdf", "file_data": f"data:application/pdf;base64,{PDF_DATA}"},
}
WAV_DATA = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt ").decode()
AUDIO_PART = {"type": "input_audio", "input_audio": {"data": WAV_DATA, "format": "wav"}}


def ask(proxy_client, gateway, provider: str, part: dict):
    content = [{"type": "text", "text": "What is in this?"}, part]
    body = {"model": PROVIDERS[provider][0], "messages": [{"role": "user", "content": content}]}
    return llm_chat(proxy_client, gateway, body)


def sent(mock, provider: str) -> dict:
    return json.loads(mock.last(PROVIDERS[provider][3]).body)


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            "anthropic",
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_DATA},
                "title": "report.v2.pdf",
            },
        ),
        ("google", {"inlineData": {"mimeType": "application/pdf", "data": PDF_DATA}}),
        (
            "bedrock",
            {"document": {"format": "pdf", "name": "report-v2 (1)", "source": {"bytes": PDF_DATA}}},
        ),
    ],
)
def test_a_pdf_file_part_reaches_the_provider_as_its_document(
    mock, llm_gateway, proxy_client, provider, expected
):
    gateway = llm_gateway([front_target(provider, mock.url)])
    response = ask(proxy_client, gateway, provider, PDF_PART)
    assert response.status_code == 200, response.content
    said = json.loads(response.content)["choices"][0]["message"]["content"]
    assert said.endswith("says: What is in this?")
    request = sent(mock, provider)
    parts = (request.get("messages") or request.get("contents"))[0]
    assert (parts.get("content") or parts.get("parts"))[1] == expected


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("google", {"inlineData": {"mimeType": "audio/wav", "data": WAV_DATA}}),
        ("bedrock", {"audio": {"format": "wav", "source": {"bytes": WAV_DATA}}}),
    ],
)
def test_an_audio_part_reaches_providers_that_take_audio(
    mock, llm_gateway, proxy_client, provider, expected
):
    gateway = llm_gateway([front_target(provider, mock.url)])
    response = ask(proxy_client, gateway, provider, AUDIO_PART)
    assert response.status_code == 200, response.content
    request = sent(mock, provider)
    parts = (request.get("messages") or request.get("contents"))[0]
    assert (parts.get("content") or parts.get("parts"))[1] == expected


FILE_ID = {"type": "file", "file": {"file_id": "file-abc123"}}
NOT_PDF = {"type": "file", "file": {"file_data": "data:text/csv;base64,YSxiCg=="}}


@pytest.mark.parametrize(
    ("provider", "part", "says"),
    [
        ("anthropic", AUDIO_PART, "provider anthropic takes no input_audio parts"),
        ("anthropic", FILE_ID, "cannot resolve a file_id"),
        ("google", FILE_ID, "cannot resolve a file_id"),
        ("bedrock", FILE_ID, "cannot resolve a file_id"),
        ("bedrock", NOT_PDF, "must be a PDF"),
        ("google", {"type": "input_audio", "input_audio": {"data": WAV_DATA}}, "wav or mp3"),
    ],
)
def test_a_part_the_provider_cannot_take_is_a_400_naming_it(
    mock, llm_gateway, proxy_client, provider, part, says
):
    gateway = llm_gateway([front_target(provider, mock.url)])
    response = ask(proxy_client, gateway, provider, part)
    assert response.status_code == 400
    error = json.loads(response.content)["error"]
    assert error["param"] == "messages[0].content[1]"
    assert error["message"].startswith("messages[0].content[1]: ")
    assert says in error["message"]
    assert not mock.seen


TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-multilingual-v3"
PRICING = {"input_per_million": 1_000_000, "output_per_million": 0}


@pytest.fixture
def bedrock_embeddings(mock, llm_gateway):
    target = front_target("bedrock", mock.url)
    target |= {"models": [TITAN, COHERE], "default_model": TITAN, "pricing": PRICING}
    return llm_gateway([target])


def embed(proxy_client, gateway, body: dict):
    return llm_chat(proxy_client, gateway, body, path="/v1/embeddings")


def test_bedrock_titan_embeds_through_a_signed_invoke_model(
    mock, bedrock_embeddings, proxy_client, access_log_file
):
    body = {"model": TITAN, "input": "hello", "dimensions": 256}
    response = embed(proxy_client, bedrock_embeddings, body)
    assert response.status_code == 200, response.content
    answer = json.loads(response.content)
    assert answer["data"] == [{"object": "embedding", "index": 0, "embedding": VECTOR}]
    assert answer["usage"] == {"prompt_tokens": 11, "completion_tokens": 0, "total_tokens": 11}
    assert json.loads(mock.last("/invoke").body) == {"inputText": "hello", "dimensions": 256}
    (line,) = request_lines(access_log_file)
    assert (line["llm"]["provider"], line["llm"]["prompt_tokens"]) == ("bedrock", 11)
    assert line["llm"]["cost"] == 11


def test_bedrock_cohere_embeds_every_input_in_one_call(mock, bedrock_embeddings, proxy_client):
    body = {"model": COHERE, "input": ["one", "two"], "encoding_format": "float"}
    response = embed(proxy_client, bedrock_embeddings, body)
    assert response.status_code == 200, response.content
    answer = json.loads(response.content)
    assert [item["embedding"] for item in answer["data"]] == [VECTOR, VECTOR]
    assert answer["usage"]["prompt_tokens"] == 11
    sent_body = json.loads(mock.last("/invoke").body)
    assert sent_body == {"texts": ["one", "two"], "input_type": "search_document"}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"model": TITAN, "input": ["one", "two"]}, "one text per request"),
        ({"model": TITAN, "input": [[1, 2, 3]]}, "non-empty texts only"),
    ],
)
def test_bedrock_embeddings_it_cannot_send_are_a_400(
    mock, bedrock_embeddings, proxy_client, body, says
):
    response = embed(proxy_client, bedrock_embeddings, body)
    assert response.status_code == 400
    assert says in json.loads(response.content)["error"]["message"]
    assert not mock.seen


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("openai", "/v1/chat/completions"),
        ("azure", "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"),
    ],
)
def test_a_passthrough_stream_without_include_usage_is_metered_and_its_usage_chunk_not_relayed(
    mock, transactional_db, api, proxy_client, access_log_file, provider, path
):
    target = {**front_target(provider, mock.url), "mode": "passthrough", "pricing": PRICING}
    rule_path = path.split("/", 2)[1]
    gateway = routed_gateway(
        in_process_post(api), subdomain="llm", target_dicts=[target], path=f"/{rule_path}/*"
    )
    body = {"model": target["default_model"], "messages": HELLO, "stream": True}
    response = llm_chat(proxy_client, gateway, body, path=path)
    assert response.status_code == 200, response.content
    stream = b"".join(response.streaming_content)
    parser = SSEParser()
    chunks = [e.json() for e in parser.feed(stream) + parser.finish() if e.data != "[DONE]"]
    assert stream.endswith(b"data: [DONE]\n\n")
    assert chunks
    assert all(chunk["choices"] and chunk.get("usage") is None for chunk in chunks)
    assert json.loads(mock.seen[-1].body)["stream_options"] == {"include_usage": True}
    (line,) = request_lines(access_log_file)
    assert (line["llm"]["prompt_tokens"], line["llm"]["completion_tokens"]) == (11, 7)
    assert line["llm"]["cost"] == 11
