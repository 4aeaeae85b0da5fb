"""The provider adapter base class: build a provider's request from an OpenAI one, map its
answers (JSON and streamed) back to OpenAI's shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from proxy.balancer import Target
from proxy.llm.streams import StreamTranslator
from proxy.llm.wire import Call, InvalidRequest, ProviderRequest, Settle, openai_error


class Adapter:
    """One provider's translation. Instances are stateless and shared by all requests."""

    name: ClassVar[str] = ""
    stream_content_type: ClassVar[str] = "text/event-stream"
    # The user content parts it translates (proxy.llm.parts); None: the client's pass as sent.
    content_parts: ClassVar[frozenset[str] | None] = frozenset({"text", "image_url"})

    def translates_answer(self, call: Call) -> bool:
        """False where the provider answers in OpenAI's shapes already (passed on unchanged)."""
        return True

    def chat_request(self, call: Call) -> ProviderRequest:
        raise NotImplementedError(".chat_request() must be overridden")

    def chat_answer(self, data: Any, call: Call) -> dict[str, Any]:
        raise NotImplementedError(".chat_answer() must be overridden")

    def chat_stream(self, call: Call, settle: Settle) -> StreamTranslator:
        """The translator of a streamed answer to `call`; the usage it reads goes to `settle`."""
        raise NotImplementedError(".chat_stream() must be overridden")

    def embeddings_request(self, call: Call) -> ProviderRequest:
        raise InvalidRequest(f"embeddings are not available from provider {self.name}")

    def embeddings_answer(self, data: Any, call: Call) -> dict[str, Any]:
        raise NotImplementedError(".embeddings_answer() must be overridden")

    def usage_in_headers(self, call: Call, headers: Mapping[str, str]) -> dict[str, int] | None:
        """Usage the provider reports in its answer's headers rather than its body (None)."""
        return None

    def error_answer(self, status: int, data: Any, headers: Mapping[str, str]) -> dict[str, Any]:
        """A provider's error answer in OpenAI's error shape."""
        return openai_error(status, data)

    def sign(self, target: Target, url: str, headers: Any, body: bytes) -> None:
        """Sign the finished request when the provider wants signatures (Bedrock's SigV4)."""
