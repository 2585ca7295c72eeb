"""Check the locked dependencies against PyPI's published vulnerability data.

``pip-audit`` asks PyPI for each pinned release (``/pypi/NAME/VERSION/json``). Where only the
project documents are reachable (``/pypi/NAME/json``, as on these build machines), this script
still checks every pin that is the project's latest release, using the ``vulnerabilities`` that
PyPI lists for that release; a pin older than the latest release is reported as not checked.
It fails when a checked pin has a known vulnerability that is not withdrawn.
"""

from __future__ import annotations

import argparse
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


def pins(path: Path) -> list[tuple[str, str]]:
    """``(name, version)`` for every ``name==version`` line of a requirements file."""
    found = []
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found.append((match[1], match[2]))
    return found


def check(client: httpx.Client, name: str, version: str) -> tuple[str, str, list[str]]:
    """``(status, detail, vulnerability ids)`` for one pin."""
    answer = client.get(f"https://pypi.org/pypi/{name}/json")
    if answer.status_code != 200:
        return "unchecked", f"PyPI answered {answer.status_code}", []
    data = answer.json()
    latest = data["info"]["version"]
    if latest != version:
        return "unchecked", f"pinned {version}, latest is {latest}", []
    vulns = [v for v in data.get("vulnerabilities") or [] if not v.get("withdrawn")]
    ids = [str(v.get("id")) for v in vulns]
    return ("vulnerable" if ids else "ok"), latest, ids


def main() -> int:
    """Audit a requirements file; exit 1 on a known vulnerability."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("requirements", type=Path)
    args = parser.parse_args()
    items = pins(args.requirements)
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda pin: (pin, check(client, *pin)), items))
    vulnerable = [(pin, ids) for pin, (status, _, ids) in results if status == "vulnerable"]
    unchecked = [(pin, detail) for pin, (status, detail, _) in results if status == "unchecked"]
    checked = len(results) - len(unchecked)
    for (name, version), ids in vulnerable:
        print(f"VULNERABLE {name}=={version}: {', '.join(ids)}")
    for (name, _version), detail in unchecked:
        print(f"not checked {name}: {detail}")
    print(f"{checked} of {len(results)} pins checked, {len(vulnerable)} with known vulnerabilities")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
