"""The Node `openai` package and the Vercel AI SDK through the gateway, for every provider: each
script (tests/conformance/node) runs all its cases once and prints one JSON document."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conformance.conftest import COST, PNG, WEATHER_SCHEMA
from tests.e2e.test_llm_front_e2e import PROVIDERS, WEATHER_TOOL
from tests.llm_mocks import replies

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
]

NODE_DIR = Path(__file__).resolve().parent / "node"
SCRIPTS = {"openai": "openai.mjs", "ai-sdk": "ai-sdk.mjs"}
CASES = [(client, provider) for client in SCRIPTS for provider in PROVIDERS]


@pytest.fixture(scope="module")
def results(front) -> dict[str, dict]:
    """Both scripts, run side by side: {client: {"<provider>:<case>": {"value"} or {"raised",
    "message"}}}."""
    if not (NODE_DIR / "node_modules").is_dir():
        pytest.fail(f"the Node clients are not installed: npm ci --prefix {NODE_DIR}")
    given = {
        "base_url": front.base_url,
        "host": front.host,
        "key": front.key,
        "providers": {p: {"model": spec[0]} for p, spec in PROVIDERS.items()},
        "png": PNG,
        "schema": WEATHER_SCHEMA,
        "tool": WEATHER_TOOL,
        "cut": replies.CUT,
    }
    running = {
        client: subprocess.Popen(
            ["node", script, json.dumps(given)],
            cwd=NODE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for client, script in SCRIPTS.items()
    }
    found = {}
    for client, process in running.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        found[client] = json.loads(out)
    return found


def value(results: dict, client: str, case: str):
    found = results[client][case]
    assert "value" in found, f"{client} {case} raised {found['raised']}: {found['message']}"
    return found["value"]


@pytest.mark.parametrize(("client", "provider"), CASES)
def test_chat(results, client, provider):
    said = value(results, client, f"{provider}:chat")
    assert said["text"] == f"{PROVIDERS[provider][2]} says: hello"
    if client == "openai":
        assert (said["usage"]["prompt_tokens"], said["usage"]["completion_tokens"]) == (11, 7)
    else:
        assert (said["usage"]["inputTokens"], said["usage"]["outputTokens"]) == (11, 7)


@pytest.mark.parametrize(("client", "provider"), CASES)
def test_answer_names_the_selected_provider(results, client, provider):
    if client == "openai":
        selected = value(results, client, f"{provider}:selected")
    else:
        selected = value(results, client, f"{provider}:chat")["selected"]
    assert selected == provider


@pytest.mark.parametrize(("client", "provider"), CASES)
def test_stream(results, client, provider):
    said = value(results, client, f"{provider}:stream")
    text = said if client == "openai" else said["text"]
    assert text == f"{PROVIDERS[provider][2]} says: flow"


@pytest.mark.parametrize(("client", "provider"), CASES)
def test_tool_arguments_streamed(results, client, provider):
    call = value(results, client, f"{provider}:tool")
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == replies.TOOL_ARGUMENTS
    if client == "ai-sdk":
        assert call["input"] == replies.TOOL_ARGUMENTS


@pytest.mark.parametrize(("client", "provider"), CASES)
def test_structured_output(results, client, provider):
    assert value(results, client, f"{provider}:structured") == replies.TOOL_ARGUMENTS


@pytest.mark.parametrize(("client", "provider"), CASES)
def test_image(results, client, provider):
    said = value(results, client, f"{provider}:image")
    assert said == f"{PROVIDERS[provider][2]} says: what is it?"


@pytest.mark.parametrize("client", SCRIPTS)
def test_gateway_error_shows_its_message(results, client):
    found = results[client]["error"]
    assert found.get("raised"), found
    assert "model 'gpt-9' is not available" in found["message"]


@pytest.mark.parametrize(("client", "provider"), CASES)
def test_stream_cut_mid_way_raises(results, client, provider):
    found = results[client][f"{provider}:cut"]
    assert found.get("raised"), f"{client} read the cut stream of {provider} as whole: {found}"


@pytest.mark.parametrize(("client", "provider"), CASES)
def test_stream_usage_and_cost(results, front, client, provider):
    """The openai package asks no usage (no include_usage); the AI SDK asks it and reads it."""
    if client == "ai-sdk":
        usage = value(results, client, f"{provider}:stream")["usage"]
        assert (usage["inputTokens"], usage["outputTokens"]) == (11, 7)
    llm = front.logged(f"conform-node-{client}-usage-{provider}")["llm"]
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (11, 7)
    assert llm["cost"] == pytest.approx(COST)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_ai_sdk_default_provider_speaks_the_responses_api(results, provider):
    """`createOpenAI(...)(model)` calls /v1/responses: text, stream, tool call, structured
    output and a cut stream, for every provider."""
    says = PROVIDERS[provider][2]
    said = value(results, "ai-sdk", f"{provider}:responses-text")
    assert said["text"] == f"{says} says: hello"
    assert (said["usage"]["inputTokens"], said["usage"]["outputTokens"]) == (11, 7)
    assert value(results, "ai-sdk", f"{provider}:responses-stream")["text"] == f"{says} says: flow"
    call = value(results, "ai-sdk", f"{provider}:responses-tool")
    assert (call["name"], call["input"]) == ("get_weather", replies.TOOL_ARGUMENTS)
    structured = value(results, "ai-sdk", f"{provider}:responses-structured")
    assert structured == replies.TOOL_ARGUMENTS
    found = results["ai-sdk"][f"{provider}:responses-cut"]
    assert found.get("raised"), f"the AI SDK read the cut Responses stream of {provider} as whole"
