"""Request handlers: `handler(ctx, request) -> result`, snake_case dicts in and out, no HTTP."""
