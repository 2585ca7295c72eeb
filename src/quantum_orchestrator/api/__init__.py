"""The HTTP API: ``create_app(settings)``, routers per resource, problem details, middleware."""
