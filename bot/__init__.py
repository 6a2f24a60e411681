"""feedbot\x27s conversation engine: platform-neutral, talks to storage, never to a platform SDK."""
