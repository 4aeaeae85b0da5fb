"""OpenAI's Responses API on the translating front: requests, answers, events, stored state."""
