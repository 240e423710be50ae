"""Optional model adapters (OpenAI-compatible chat-completions services)."""
