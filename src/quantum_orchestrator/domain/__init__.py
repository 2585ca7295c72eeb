"""Pure domain logic: the spec model, validation, the DAG, state transitions and errors.

Nothing here imports a web framework, a database driver or an HTTP client.
"""
