"""Privacy: personal text may reach the LLM, never a log line.

The whole run is captured at DEBUG (structlog's JSON output on stdout, and every
stdlib logger, the openai client's and its HTTP library's included), while the
model reads messages and notes and writes captions quoting them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import structlog

from reels_core.domain import Mode
from scripter_service.agentic import INVALID_SCRIPT
from scripter_service.generate import ScriptGenerator
from scripter_service.llm import LLMConfig
from service_kit.logs import configure_logging
from tests.scripter.agentic_helpers import birthday_request, day_range, grounded_answer
from tests.scripter.fake_llm import FakeLLM, Reply, answer, tool_calls, tool_results


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture):
    saved = structlog.get_config()
    configure_logging("json", "debug", service="scripter")
    caplog.set_level(logging.DEBUG)
    yield caplog
    structlog.configure(**saved)


def personal_texts(library: Path) -> list[str]:
    """Every message text, every line of every note, every event title of the pack."""
    ctx = library / ".reels-context"
    texts = [m["text"] for m in json.loads((ctx / "messages.json").read_text(encoding="utf-8"))]
    for note in (ctx / "notes").iterdir():
        texts += [line.strip("#- ").strip() for line in note.read_text(encoding="utf-8").splitlines()]
    for line in (ctx / "calendar.ics").read_text(encoding="utf-8").splitlines():
        if line.startswith("SUMMARY:"):
            texts.append(line.removeprefix("SUMMARY:").replace("\\", ""))
    return [t for t in texts if len(t) >= 8]


def spellings(text: str) -> set[str]:
    """The text as it would appear in a log line: raw, or JSON-escaped (ASCII only)."""
    return {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}


def quoting_answer(req, *, too_long: bool):
    """An answer whose captions quote a message and a note the tools returned."""

    def reply(body: dict[str, Any], _fake: FakeLLM) -> Reply:
        results = tool_results(body)
        event = next(e for r in results for e in r.get("results", []) if e.get("summary") == "Birthday picnic")
        message = next(m for r in results for m in r.get("results", []) if "cake" in m.get("text", ""))
        note = next(n for r in results for n in r.get("results", []) if "path" in n)
        stay = next(s for r in results for s in r.get("results", []) if s.get("source_id", "").startswith("place:"))
        body_ = grounded_answer(req, event, stay["source_id"])
        body_["shots"][1]["caption"] = message["text"] + (" and more" * 10 if too_long else "")
        body_["shots"][1]["source_ids"] = [message["source_id"]]
        body_["shots"][2]["caption"] = note["title"][:80]
        body_["shots"][2]["source_ids"] = [note["source_id"]]
        return answer(body_)

    return reply


@pytest.mark.parametrize("too_long", [False, True], ids=["grounded", "rejected"])
def test_no_personal_text_in_any_log_line(
    sample_library_src: Path, tmp_path: Path, debug_logs: pytest.LogCaptureFixture, capsys, too_long: bool
) -> None:
    library = sample_library_src
    req = birthday_request(library)
    span = day_range(req)
    with FakeLLM(
        [
            tool_calls(
                ("calendar_events", span),
                ("locations", span),
                ("messages", span),
                ("search_notes", {"query": "Nice weekend castle"}),
            ),
            quoting_answer(req, too_long=too_long),
        ]
    ) as fake:
        gen = ScriptGenerator(
            llm_config=LLMConfig(fake.base_url, "fake-model", "sk-secret-key", 5.0),
            libraries={"sample": library},
            cache_dir=tmp_path / "cache",
        )
        script = gen.generate(req, deadline_s=20)

    if too_long:
        assert (script.mode_used, script.fallback_reason) == (Mode.FAST, INVALID_SCRIPT)
    else:
        assert script.mode_used is Mode.AGENTIC
        assert {g.kind for g in script.grounding} == {"event", "place", "message", "note"}

    captured = capsys.readouterr()
    records = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in debug_logs.records)
    logs = captured.out + captured.err + records
    assert '"event": "agentic_script"' in captured.out and '"event": "tool_call"' in captured.out
    assert '"event": "llm_call"' in captured.out

    # The personal text did reach the model ...
    sent = json.dumps(fake.requests, ensure_ascii=False)
    secrets = personal_texts(library)
    assert "I'll bring the cake, you bring the blanket" in sent
    assert sum(text in sent for text in secrets) >= 4
    # ... and none of it, nor a caption or the API key, reached a log line.
    leaked = [text for text in secrets if any(form in logs for form in spellings(text))]
    assert leaked == []
    for shot in script.shots:
        assert not shot.caption or not any(form in logs for form in spellings(shot.caption))
    assert "sk-secret-key" not in logs
