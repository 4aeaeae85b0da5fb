"""response_cache's semantic side: the text of a request that is embedded, and the nearest kept
vector by cosine similarity (numpy over the scope's bounded list of vectors in Redis)."""

from __future__ import annotations

from typing import Any

import numpy as np

from plugins.sdk.llm_content import message_texts

Vectors = list[bytes]  # each: the 64 hex digits of an answer's hash, then float32 values
HASH_LENGTH = 64


def embedded_text(body: dict[str, Any], what: str) -> tuple[str, list[Any]] | None:
    """(the text to embed, the messages left out of it) for `what` (the last user message or
    the whole conversation); None when the request has no such text."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    if what == "conversation":
        parts = [f"{item.role}: {item.text}" for item in message_texts({"messages": messages})]
        return ("\n".join(parts), []) if parts else None
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, dict) and message.get("role") == "user":
            texts = [item.text for item in message_texts({"messages": [message]})]
            if not any(texts):
                return None
            return "\n".join(texts), messages[:index] + messages[index + 1 :]
    return None


def packed(answer_hash: str, vector: list[float]) -> bytes:
    return answer_hash.encode() + np.asarray(vector, dtype=np.float32).tobytes()


def nearest(query: list[float], kept: Vectors) -> tuple[str, float] | None:
    """The kept answer's hash whose vector is the closest to `query` by cosine, and how close;
    None when nothing of the query's dimension is kept."""
    vector = np.asarray(query, dtype=np.float32)
    size = HASH_LENGTH + vector.nbytes
    rows = [entry for entry in kept if len(entry) == size]
    if not rows or not np.any(vector):
        return None
    matrix = np.frombuffer(b"".join(row[HASH_LENGTH:] for row in rows), dtype=np.float32)
    matrix = matrix.reshape(len(rows), vector.size)
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(vector)
    similarities = np.divide(matrix @ vector, norms, out=np.zeros(len(rows)), where=norms > 0)
    best = int(np.argmax(similarities))
    return rows[best][:HASH_LENGTH].decode(), float(similarities[best])
