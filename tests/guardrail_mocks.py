"""Local stand-ins of the moderation services, speaking their public wire formats: OpenAI
`POST /v1/moderations`, Azure AI Content Safety `text:analyze`/`image:analyze`
(api-version 2024-09-01), Amazon Bedrock `ApplyGuardrail` (SigV4 `Authorization` checked for
form), and a generic verdict service for external_api. Each can be slowed down or made to fail,
and records every call with its arrival and answer times."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from requests.structures import CaseInsensitiveDict

from tests.upstream import BackgroundServer

AZURE_API_VERSION = "2024-09-01"
# Words that make the services flag a text, and what they report for it.
OPENAI_FLAGS = {"hateful": {"hate": 0.93}, "murder": {"violence": 0.97}}
AZURE_FLAGS = {"hateful": {"Hate": 4}, "murder": {"Violence": 6}}
EXTERNAL_FLAGS = ("hateful", "murder")
BEDROCK_TOPIC = "forbidden-topic"
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
OPENAI_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
SIGV4_RE = re.compile(
    r"^AWS4-HMAC-SHA256 "
    r"Credential=(?P<key>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/bedrock/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9-]+(;[a-z0-9-]+)*), "
    r"Signature=[0-9a-f]{64}$"
)


@dataclass
class Call:
    path: str
    query: dict[str, list[str]]
    headers: CaseInsensitiveDict
    body: Any
    arrived: float
    answered: float = 0.0


class MockHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body go out at once, as real services send them
    server: GuardrailMock

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = Call(
            parts.path,
            parse_qs(parts.query),
            CaseInsensitiveDict(self.headers.items()),
            body,
            arrived,
        )
        self.server.record(call)
        time.sleep(self.server.delay)
        call.answered = time.monotonic()
        if self.server.fail_status:
            self.answer(self.server.fail_status, {"error": {"message": "mock failure"}})
            return
        status, answer = self.server.route(call)
        self.answer(status, answer)

    do_GET = do_PUT = do_POST

    def answer(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class GuardrailMock(BackgroundServer):
    """All four services on one port; `delay` seconds before each answer, `fail_status`
    answers every call with that status."""

    def __init__(self, *, key: str = "test-key", aws_key_id: str = "AKIDEXAMPLE") -> None:
        super().__init__(("127.0.0.1", 0), MockHandler)
        self.key = key
        self.aws_key_id = aws_key_id
        self.delay = 0.0
        self.fail_status: int | None = None
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def route(self, call: Call) -> tuple[int, Any]:
        if call.path == "/v1/moderations":
            return self.openai(call)
        if call.path in ("/contentsafety/text:analyze", "/contentsafety/image:analyze"):
            return self.azure(call)
        match = re.fullmatch(r"/guardrail/([^/]+)/version/([^/]+)/apply", call.path)
        if match:
            return self.bedrock(call, unquote(match.group(1)))
        if call.path == "/verdict":
            return self.external(call)
        return 404, {"error": "no such path"}

    # OpenAI moderations

    def openai(self, call: Call) -> tuple[int, Any]:
        if call.headers.get("Authorization") != f"Bearer {self.key}":
            return 401, {
                "error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}
            }
        body = call.body if isinstance(call.body, dict) else {}
        items = body.get("input")
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not items:
            return 400, {
                "error": {
                    "message": "'input' is a required property",
                    "type": "invalid_request_error",
                }
            }
        if all(isinstance(item, dict) for item in items):  # one multimodal input
            texts = [" ".join(i.get("text", "") for i in items if i.get("type") == "text")]
        else:
            texts = [str(item) for item in items]
        return 200, {
            "id": f"modr-{len(self.calls)}",
            "model": body.get("model", "omni-moderation-latest"),
            "results": [openai_result(text) for text in texts],
        }

    # Azure AI Content Safety

    def azure(self, call: Call) -> tuple[int, Any]:
        if call.headers.get("Ocp-Apim-Subscription-Key") != self.key:
            return 401, {
                "error": {
                    "code": "401",
                    "message": "Access denied due to invalid subscription key.",
                }
            }
        if call.query.get("api-version") != [AZURE_API_VERSION]:
            return 404, {"error": {"code": "404", "message": "Resource not found"}}
        body = call.body if isinstance(call.body, dict) else {}
        if call.path.endswith("image:analyze"):
            image = body.get("image")
            if not isinstance(image, dict) or not (image.get("content") or image.get("blobUrl")):
                return 400, {
                    "error": {"code": "InvalidRequestBody", "message": "image is required"}
                }
            severity = 6 if "bad-image" in json.dumps(image) else 0
            return 200, {"categoriesAnalysis": [{"category": "Violence", "severity": severity}]}
        text = body.get("text")
        if not isinstance(text, str) or not text or len(text) > 10_000:
            return 400, {"error": {"code": "InvalidRequestBody", "message": "text is invalid"}}
        categories = body.get("categories") or ["Hate", "SelfHarm", "Sexual", "Violence"]
        found = {
            c: s
            for word, hits in AZURE_FLAGS.items()
            if word in text.lower()
            for c, s in hits.items()
        }
        return 200, {
            "blocklistsMatch": [],
            "categoriesAnalysis": [
                {"category": c, "severity": found.get(c, 0)} for c in categories
            ],
        }

    # Amazon Bedrock ApplyGuardrail

    def bedrock(self, call: Call, guardrail_id: str) -> tuple[int, Any]:
        signature = SIGV4_RE.match(call.headers.get("Authorization", ""))
        amz_date = call.headers.get("X-Amz-Date", "")
        if (
            signature is None
            or signature["key"] != self.aws_key_id
            or not re.fullmatch(r"\d{8}T\d{6}Z", amz_date)
            or signature["date"] != amz_date[:8]
            or not {"host", "x-amz-date"} <= set(signature["signed"].split(";"))
        ):
            return 403, {"message": "The request signature we calculated does not match"}
        body = call.body if isinstance(call.body, dict) else {}
        content = body.get("content")
        if body.get("source") not in ("INPUT", "OUTPUT") or not isinstance(content, list):
            return 400, {"message": "ValidationException: source and content are required"}
        texts = [block["text"]["text"] for block in content]
        return 200, bedrock_answer(texts)

    # A generic verdict service (external_api)

    def external(self, call: Call) -> tuple[int, Any]:
        text = json.dumps(call.body).lower()
        flagged = any(word in text for word in EXTERNAL_FLAGS)
        return 200, {"result": {"flagged": flagged, "score": 0.9 if flagged else 0.1}}


def openai_result(text: str) -> dict[str, Any]:
    scores = dict.fromkeys(OPENAI_CATEGORIES, 0.0001)
    for word, hits in OPENAI_FLAGS.items():
        if word in text.lower():
            scores.update(hits)
    categories = {name: score >= 0.5 for name, score in scores.items()}
    return {
        "flagged": any(categories.values()),
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": {name: ["text"] for name in OPENAI_CATEGORIES},
    }


def bedrock_answer(texts: list[str]) -> dict[str, Any]:
    """A topic in any text blocks; e-mail addresses are anonymised."""
    usage = {"topicPolicyUnits": len(texts), "sensitiveInformationPolicyUnits": len(texts)}
    if any(BEDROCK_TOPIC in text for text in texts):
        topic = {"name": "Forbidden", "type": "DENY", "action": "BLOCKED", "detected": True}
        return {
            "action": "GUARDRAIL_INTERVENED",
            "actionReason": "Guardrail blocked.",
            "outputs": [{"text": "Sorry, the model cannot answer this question."}],
            "assessments": [{"topicPolicy": {"topics": [topic]}}],
            "usage": usage,
        }
    emails = [match for text in texts for match in EMAIL_RE.findall(text)]
    if emails:
        entities = [
            {"match": email, "type": "EMAIL", "action": "ANONYMIZED", "detected": True}
            for email in emails
        ]
        return {
            "action": "GUARDRAIL_INTERVENED",
            "actionReason": "Guardrail masked.",
            "outputs": [{"text": EMAIL_RE.sub("{EMAIL}", text)} for text in texts],
            "assessments": [{"sensitiveInformationPolicy": {"piiEntities": entities}}],
            "usage": usage,
        }
    return {"action": "NONE", "outputs": [], "assessments": [{}], "usage": usage}
