"""Embeddings on Amazon Bedrock through InvokeModel: the body of a Titan or Cohere embeddings
model, and its answer (with the token count Bedrock puts in a header) as OpenAI's list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from proxy.llm.wire import Call, InvalidRequest, ProviderRequest, embeddings_list, usage_of

TITAN = "amazon.titan-embed"
COHERE = "cohere.embed"
COHERE_INPUT_TYPES = frozenset({"search_document", "search_query", "classification", "clustering"})
# InvokeModel reports the tokens it counted in these headers, whatever the model's body holds.
INPUT_TOKENS_HEADER = "X-Amzn-Bedrock-Input-Token-Count"
MODELS_TAKEN = (
    "provider bedrock embeds with Titan (amazon.titan-embed-*) or Cohere (cohere.embed-*)"
)


def family(model: str) -> str:
    """TITAN or COHERE, for a model id (cross-region ids such as `us.cohere.embed-v4:0` too)."""
    for name in (TITAN, COHERE):
        if model.startswith(name) or f".{name}" in model:
            return name
    raise InvalidRequest(f"model {model!r}: {MODELS_TAKEN} models")


def texts_of(call: Call) -> list[str]:
    texts = call.body["input"]
    texts = [texts] if isinstance(texts, str) else texts
    if not all(isinstance(text, str) and text for text in texts):
        raise InvalidRequest("input: provider bedrock embeds non-empty texts only (no tokens)")
    return texts


def embeddings_request(call: Call) -> ProviderRequest:
    """InvokeModel of the model: Titan takes one `inputText` (and `dimensions`, `normalize`),
    Cohere a list of `texts` with an `input_type` (the client's, else `search_document`)."""
    texts = texts_of(call)
    body: dict[str, Any]
    if family(call.model) == TITAN:
        if len(texts) != 1:
            raise InvalidRequest(
                "input: a Titan model on provider bedrock embeds one text per request"
            )
        body = {"inputText": texts[0]}
        if isinstance(call.body.get("dimensions"), int):
            body["dimensions"] = call.body["dimensions"]
        if isinstance(call.body.get("normalize"), bool):
            body["normalize"] = call.body["normalize"]
    else:
        input_type = call.body.get("input_type")
        if input_type not in COHERE_INPUT_TYPES:
            input_type = "search_document"
        body = {"texts": texts, "input_type": input_type}
    return ProviderRequest(f"/model/{quote(call.model, safe='')}/invoke", body)


def embeddings_answer(data: Any, call: Call) -> dict[str, Any]:
    """Titan's `{"embedding", "inputTextTokenCount"}` or Cohere's `{"embeddings"}` (floats, or
    `{"float": [...]}` when embedding types were asked for) as OpenAI's list."""
    if family(call.model) == TITAN:
        return embeddings_list(call, [data["embedding"]], data.get("inputTextTokenCount"))
    vectors = data["embeddings"]
    if isinstance(vectors, dict):
        vectors = vectors["float"]
    return embeddings_list(call, list(vectors))


def usage_in_headers(headers: Mapping[str, str]) -> dict[str, int] | None:
    """The input tokens InvokeModel counted (Cohere's body reports none)."""
    value = headers.get(INPUT_TOKENS_HEADER, "")
    return usage_of(int(value), 0) if value.isdigit() else None
