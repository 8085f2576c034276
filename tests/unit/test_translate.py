from __future__ import annotations

import base64

import pytest

from litellm_claude_code._openai.messages import CONTINUE_PROMPT, image_block, to_conversation
from litellm_claude_code._shapes import Turn
from litellm_claude_code.errors import TranslationError

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n...").decode()


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


def test_single_user_message() -> None:
    conversation = to_conversation([{"role": "user", "content": "hi"}])
    assert conversation.system_prompt is None
    assert conversation.history == ()
    assert conversation.prompt == (text("hi"),)


def test_system_and_developer_messages_join_in_order_wherever_they_are() -> None:
    conversation = to_conversation(
        [
            {"role": "system", "content": "A"},
            {"role": "user", "content": "q1"},
            {"role": "developer", "content": [text("B1"), text("B2")]},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
        ]
    )
    assert conversation.system_prompt == "A\n\nB1\nB2"
    assert conversation.history == (Turn("user", [text("q1")]), Turn("assistant", [text("a1")]))
    assert conversation.prompt == (text("q2"),)


def test_consecutive_same_role_messages_merge() -> None:
    conversation = to_conversation(
        [
            {"role": "user", "content": "a"},
            {"role": "user", "content": [text("b")]},
        ]
    )
    assert conversation.history == ()
    assert conversation.prompt == (text("a"), text("b"))


def test_empty_assistant_turn_is_dropped_and_neighbours_merge() -> None:
    conversation = to_conversation(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "b"},
        ]
    )
    assert conversation.prompt == (text("a"), text("b"))


def test_refusal_parts_in_assistant_history_are_text() -> None:
    conversation = to_conversation(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
            {"role": "user", "content": "b"},
        ]
    )
    assert conversation.history[1] == Turn("assistant", [text("no")])


def test_data_url_image_becomes_image_block() -> None:
    conversation = to_conversation(
        [{"role": "user", "content": [text("look"), {"type": "image_url", "image_url": {"url": PNG}}]}]
    )
    image = conversation.prompt[1]
    assert image["type"] == "image"
    assert image["source"]["media_type"] == "image/png"
    assert base64.b64decode(image["source"]["data"]) == b"\x89PNG\r\n\x1a\n..."


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([], "at least one message"),
        (None, "must be a list"),
        ("hello", "must be a list"),
        ([5], "messages[0] must be an object"),
        ([{"role": "robot", "content": "x"}], "unknown role 'robot'"),
        ([{"role": "tool", "content": "x"}], "messages[0].tool_call_id must be a non-empty string"),
        ([{"role": "function", "name": "f", "content": "x"}], "legacy role 'function'"),
        ([{"content": "x"}], "unknown role None"),
        ([{"role": "user", "content": 7}], "messages[0].content must be"),
        ([{"role": "user", "content": [7]}], "messages[0].content[0] must be an object"),
        ([{"role": "user", "content": [{"type": "input_audio"}]}], "unsupported content part type 'input_audio'"),
        (
            [{"role": "user", "content": [{"type": "text", "text": None}]}],
            "messages[0].content[0].text must be a string",
        ),
        ([{"role": "user", "content": ""}], "content is empty"),
        ([{"role": "system", "content": "only system"}], "last non-system message must be a user"),
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "last non-system"),
        (
            [{"role": "assistant", "content": "x", "tool_calls": [{"id": "1"}]}, {"role": "user", "content": "q"}],
            "messages[0].tool_calls[0] must have an `id` and a `function`",
        ),
        (
            [
                {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{x"}}]},
                {"role": "user", "content": "q"},
            ],
            "messages[0].tool_calls[0].function.arguments is not valid JSON",
        ),
        (
            [
                {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "[1]"}}]},
                {"role": "user", "content": "q"},
            ],
            "must be a JSON object",
        ),
        (
            [{"role": "system", "content": [{"type": "image_url"}]}, {"role": "user", "content": "q"}],
            "expected a text part",
        ),
        (
            [
                {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": PNG}}]},
                {"role": "user", "content": "q"},
            ],
            "in a assistant message",
        ),
    ],
)
def test_bad_input_names_the_problem(messages: object, fragment: str) -> None:
    with pytest.raises(TranslationError) as caught:
        to_conversation(messages)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("https://example.com/a b.png", "not a valid http(s) URL"),
        ("data:image/tiff;base64,AAAA", "image type 'image/tiff' is not supported"),
        ("data:image/png;base64,not base64!!", "not valid base64"),
        ("data:image/jpeg;base64," + base64.b64encode(b"GIF89a").decode(), "not a image/jpeg image"),
        ("ftp://x", "must be an http(s) URL or a data:image"),
        ("", "non-empty string"),
    ],
)
def test_bad_images_are_refused(url: str, fragment: str) -> None:
    with pytest.raises(TranslationError) as caught:
        image_block({"url": url}, "messages[0].content[0]")
    assert fragment in str(caught.value)
    assert "messages[0].content[0]" in str(caught.value)


def test_jpg_media_type_is_normalised() -> None:
    block = image_block("data:image/jpg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0").decode(), "here")
    assert block["source"]["media_type"] == "image/jpeg"


def test_remote_image_urls_become_url_blocks() -> None:
    # The Anthropic API fetches these itself; the proxy never does.
    block = image_block({"url": "https://example.com/cat.png"}, "here")
    assert block == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}


def test_tool_calls_and_results_become_blocks_in_their_turns() -> None:
    conversation = to_conversation(
        [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {"id": "call.2/x", "type": "function", "function": {"name": "Bash", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call.2/x", "content": [{"type": "text", "text": "rainy"}]},
            {"role": "user", "content": "Summarise."},
        ]
    )
    assert [turn.role for turn in conversation.history] == ["user", "assistant", "user"]
    assistant = conversation.history[1].content
    assert assistant == [
        {"type": "tool_use", "id": "toolu_1", "name": "mcp__client__get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2_x", "name": "mcp__client__Bash", "input": {}},
    ]
    results = conversation.history[2].content
    assert results == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "call_2_x", "content": [{"type": "text", "text": "rainy"}]},
        {"type": "text", "text": "Summarise."},
    ]
    assert conversation.prompt == ({"type": "text", "text": CONTINUE_PROMPT},)


def test_trailing_tool_results_are_history_and_the_prompt_continues() -> None:
    conversation = to_conversation(
        [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [{"id": "t1", "function": {"name": "w", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
        ]
    )
    assert conversation.history[-1].content == [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]
    assert conversation.history[1].content[0]["input"] == {}
    assert conversation.prompt == ({"type": "text", "text": CONTINUE_PROMPT},)
