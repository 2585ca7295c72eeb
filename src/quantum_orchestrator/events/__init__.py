"""The event bus: state changes fanned out to live listeners (SSE now, WebSocket later)."""
