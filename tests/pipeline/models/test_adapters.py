"""Model adapters against a fake OpenAI-compatible chat-completions server (real HTTP)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from app.pipeline import Engine, EngineOptions
from app.pipeline.models.llm import ChatClient, ChatConfig, ChatError, write_report
from app.pipeline.models.vlm import enrich_descriptions
from app.pipeline.reasoning.describe import describe_keyframes
from app.pipeline.reasoning.evidence import EvidenceTable
from app.pipeline.reasoning.summary import summarize
from tests.pipeline.factories import capture, keyframe, line, media_path, reason
from tests.support.factories import create_body


@dataclass
class FakeService:
    """Replies with ``replies`` in turn (the last one repeats); records every request."""

    url: str
    replies: list[tuple[int, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def answer(self, content: str | dict[str, Any], status: int = 200) -> None:
        text = content if isinstance(content, str) else json.dumps(content)
        self.replies.append(
            (
                status,
                {
                    "id": "x",
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )
        )


@pytest.fixture
def service() -> Iterator[FakeService]:
    state = FakeService(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the http.server interface names it so
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, **body})
            state.headers.append(dict(self.headers))
            status, reply = state.replies[min(len(state.requests), len(state.replies)) - 1]
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def _report_inputs() -> tuple[Any, EvidenceTable, list[Any], Any]:
    rec = capture(
        url="http://shop.test/cart",
        title="Cart — Shop",
        intent="Buy the shoes.",
        actions=[{"type": "click", "timestamp": 1000, "selector": "#buy", "text": "Buy"}],
        network=[
            {
                "method": "POST",
                "url": "http://shop.test/api/order",
                "status": 500,
                "timestamp": 1100,
            }
        ],
        console=[
            {"level": "error", "message": "OrderError: stock service down", "timestamp": 1200},
            {"level": "warn", "message": "slow font", "timestamp": 2000},
        ],
    )
    keyframes = [
        keyframe(
            0,
            0.0,
            [line("Your cart", 5, 5, 60, 12)],
            reasons=("first",),
            region=None,
            ratio=1.0,
            width=160,
            height=90,
        )
    ]
    reasoned = reason(rec, keyframes, duration=10.0)
    evidence, findings = reasoned.evidence, reasoned.findings
    return rec, evidence, findings, summarize(rec, findings, 10.0, evidence)


def test_model_prose_is_kept_and_invented_evidence_dropped(service: FakeService) -> None:
    rec, evidence, findings, summary = _report_inputs()
    assert {f.kind for f in findings} == {"network_error", "console_error"}
    service.answer(
        {
            "summary": "The user tried to buy shoes; the order request failed with a server error.",
            "findings": [
                {
                    "kind": "network_error",
                    "severity": "high",
                    "title": "Ordering fails with HTTP 500",
                    "evidenceIds": ["ev-net-0"],
                },
                {
                    "kind": "payment",
                    "severity": "high",
                    "title": "Card was charged twice",
                    "evidenceIds": ["ev-net-99", "ev-made-up"],
                },
                {
                    "kind": "performance",
                    "severity": "low",
                    "title": "A font loaded slowly",
                    "evidenceIds": ["ev-console-1", "ev-invented-3"],
                },
                {"kind": "other", "title": "No evidence at all"},
                "not an object",
            ],
        }
    )
    client = ChatClient(ChatConfig(base_url=service.url, model="test-model", api_key="secret"))
    new_summary, new_findings = write_report(
        client, intent=rec.intent, evidence=evidence, findings=findings, summary=summary
    )
    client.close()
    assert new_summary.summary.startswith("The user tried to buy shoes")
    titles = [f.title for f in new_findings]
    assert "Ordering fails with HTTP 500" in titles
    assert "Card was charged twice" not in titles and "No evidence at all" not in titles
    font = next(f for f in new_findings if f.title == "A font loaded slowly")
    assert font.evidence_ids == ("ev-console-1",)
    assert font.time == pytest.approx(2.0)  # from the evidence, not from the model
    assert list(new_summary.key_findings) == [f.title for f in new_findings][:8]
    for finding in new_findings:
        assert finding.evidence_ids and all(i in evidence for i in finding.evidence_ids)
    request = service.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "test-model"
    assert "ev-net-0" in request["messages"][1]["content"]
    assert service.headers[0]["Authorization"] == "Bearer secret"


@pytest.mark.parametrize("reply", [(500, "oops"), (200, "I cannot answer that."), (200, "[1, 2]")])
def test_failing_service_keeps_the_deterministic_report(
    service: FakeService, reply: tuple[int, str]
) -> None:
    rec, evidence, findings, summary = _report_inputs()
    status, content = reply
    service.answer(content, status=status)
    client = ChatClient(ChatConfig(base_url=service.url, model="m"))
    assert write_report(
        client, intent=rec.intent, evidence=evidence, findings=findings, summary=summary
    ) == (summary, findings)
    client.close()


def test_unreachable_service_is_a_chat_error() -> None:
    client = ChatClient(ChatConfig(base_url="http://127.0.0.1:9/v1", model="m", timeout_s=2))
    with pytest.raises(ChatError):
        client.complete([{"role": "user", "content": "hi"}])
    client.close()


def test_vision_model_enriches_descriptions_with_the_image(service: FakeService) -> None:
    rec, _, _, _ = _report_inputs()
    keyframes = [
        keyframe(
            0,
            0.0,
            reasons=("first",),
            region=None,
            ratio=1.0,
            image=np.full((90, 160, 3), 200, np.uint8),
        )
    ]
    descriptions = describe_keyframes(keyframes, rec)
    service.answer("A shopping cart page with one item.")
    client = ChatClient(ChatConfig(base_url=service.url, model="vision"))
    enriched = enrich_descriptions(client, keyframes, descriptions, max_frames=4)
    client.close()
    assert enriched[0].text == descriptions[0].text + " Model: A shopping cart page with one item."
    content = service.requests[0]["messages"][0]["content"]
    image_url = next(part["image_url"]["url"] for part in content if part["type"] == "image_url")
    assert image_url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(image_url.split(",", 1)[1])[:2] == b"\xff\xd8"  # a JPEG


def test_engine_with_both_models_keeps_only_grounded_findings(service: FakeService) -> None:
    # One reply for every call: frame descriptions get it as prose, the report as invented findings.
    service.answer(
        {
            "summary": "Login failed twice with a server error.",
            "findings": [
                {
                    "kind": "security",
                    "severity": "high",
                    "title": "Password leaked",
                    "evidenceIds": ["ev-net-404"],
                }
            ],
        }
    )
    options = EngineOptions(
        llm=ChatConfig(base_url=service.url, model="text"),
        vlm=ChatConfig(base_url=service.url, model="vision"),
        vlm_max_frames=2,
    )
    engine = Engine(options)
    result = engine.analyze(media_path("login-500", "mp4"), create_body("login-500"))
    engine.close()
    out = result.to_dict()
    assert out["summary"]["summary"] == "Login failed twice with a server error."
    assert "Password leaked" not in json.dumps(out["findings"])
    assert {"network_error", "screen_error", "console_error"} <= {
        f["kind"] for f in out["findings"]
    }
    assert sum("Model:" in f["description"] for f in out["frames"]) == 2
    ids = {e["id"] for e in out["evidence"]}
    assert all(c["evidenceId"] in ids for s in out["sections"] for c in s["citations"])
