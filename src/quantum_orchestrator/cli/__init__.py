"""The ``qo`` command line (Typer)."""
