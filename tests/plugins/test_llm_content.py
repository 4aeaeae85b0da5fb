"""Texts of OpenAI chat, Anthropic messages and Responses requests, by role, writable back."""

from __future__ import annotations

from plugins.sdk.llm_content import call_texts, message_texts, set_at

OPENAI = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
        {"role": "user", "content": [{"type": "text", "text": "part"}, {"type": "image_url"}]},
        {"role": "assistant", "content": None, "tool_calls": []},
    ],
}
ANTHROPIC = {
    "model": "claude",
    "system": [{"type": "text", "text": "sys"}],
    "messages": [
        {"role": "user", "content": [{"type": "tool_result", "content": "tool says"}]},
    ],
}
RESPONSES = {"model": "gpt-4o", "instructions": "rules", "input": "question"}


def test_openai_chat_texts_by_role():
    assert [(t.role, t.text) for t in message_texts(OPENAI)] == [
        ("system", "be brief"),
        ("user", "hello"),
        ("user", "part"),
    ]
    assert [t.text for t in message_texts(OPENAI, ["user"])] == ["hello", "part"]


def test_anthropic_system_and_tool_results():
    assert [(t.role, t.text) for t in message_texts(ANTHROPIC)] == [
        ("system", "sys"),
        ("user", "tool says"),
    ]


def test_responses_input_and_instructions():
    assert [(t.role, t.text) for t in message_texts(RESPONSES)] == [
        ("system", "rules"),
        ("user", "question"),
    ]


def test_other_bodies_have_no_message_texts():
    assert message_texts({"query": "select"}) == []
    assert message_texts(["messages"]) == []


def test_a_text_is_written_back_at_its_path():
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}
    (text,) = message_texts(body)
    set_at(body, text.path, "b")
    assert body["messages"][0]["content"][0]["text"] == "b"


def test_tool_calls_carry_texts_of_their_role():
    body = {
        "model": "m",
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [{"function": {"name": "f", "arguments": '{"q": "a"}'}}],
                "function_call": {"name": "g", "arguments": '{"q": "b"}'},
                "content": [{"type": "tool_use", "input": {"q": "c", "n": [1, "d"]}}],
            }
        ],
        "input": [
            {"type": "function_call", "arguments": '{"q": "e"}'},
            {"type": "function_call_output", "output": "f"},
        ],
    }
    texts = call_texts(body)
    assert [(t.role, t.text) for t in texts] == [
        ("assistant", '{"q": "a"}'),
        ("assistant", '{"q": "b"}'),
        ("assistant", "c"),
        ("assistant", "d"),
        ("assistant", '{"q": "e"}'),
        ("tool", "f"),
    ]
    assert [t.text for t in call_texts(body, ["tool"])] == ["f"]
    for item in texts:
        set_at(body, item.path, item.text.upper())
    assert [t.text for t in call_texts(body)] == [t.text.upper() for t in texts]
    assert call_texts({"note": "x"}) == []
