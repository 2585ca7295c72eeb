"""Security primitives: secrets encryption (passwords, tokens and RBAC will live here too)."""
