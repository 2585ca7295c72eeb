"""Helpers for the test suites."""
