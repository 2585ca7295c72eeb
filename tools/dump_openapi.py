"""Write the server's OpenAPI schema to a file, for the dashboard's generated API client.

``web/``'s ``npm run gen:api`` turns it into ``web/src/api/schema.d.ts``; CI regenerates both and
fails when the committed client no longer matches the server.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from quantum_orchestrator.api.app import create_app
from quantum_orchestrator.settings import Settings


def main() -> None:
    """Dump the schema of an app built with default settings (nothing is opened)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    schema = create_app(Settings()).openapi()
    args.output.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
