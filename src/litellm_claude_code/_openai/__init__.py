"""The OpenAI side of the translation: a chat request's messages, parameters
and tools in, the response and its chunks out. Knows nothing of processes."""
