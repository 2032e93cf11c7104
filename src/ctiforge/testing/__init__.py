"""Test and benchmark helpers that ship with ctiforge: a scripted OpenAI-compatible
server and a tiny random Qwen3-architecture model, both usable offline."""
