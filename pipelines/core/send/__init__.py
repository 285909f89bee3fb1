"""The send engine: claims due disparos, sends them through MCP, writes results, retries with backoff,
dead-letters what keeps failing, and applies the MCP's delivery receipts."""
