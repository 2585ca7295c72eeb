"""``qo up`` opens the dashboard only for someone at a terminal who did not opt out."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from quantum_orchestrator.cli import main as cli_main
from quantum_orchestrator.cli.main import _announcer, dashboard_url, should_open_browser


@pytest.mark.parametrize(
    ("no_open", "tty", "environ", "expected"),
    [
        (False, True, {}, True),
        (True, True, {}, False),
        (False, False, {}, False),
        (False, True, {"QO_NO_BROWSER": "1"}, False),
        (False, True, {"QO_NO_BROWSER": ""}, True),
        (True, False, {"QO_NO_BROWSER": "1"}, False),
    ],
)
def test_the_browser_decision(
    no_open: bool, tty: bool, environ: dict[str, str], expected: bool
) -> None:
    assert should_open_browser(no_open=no_open, stdout_is_tty=tty, environ=environ) is expected


def test_dashboard_url_reaches_a_wildcard_address_through_loopback() -> None:
    assert dashboard_url("http://127.0.0.1:8787") == "http://127.0.0.1:8787/"
    assert dashboard_url("http://0.0.0.0:8787") == "http://127.0.0.1:8787/"
    assert dashboard_url("https://[::]:443") == "https://[::1]:443/"


def test_announcer_prints_the_url_and_opens_only_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    opened: list[str] = []
    _announcer(open_browser=True, opener=opened.append)("http://127.0.0.1:9", None)
    assert opened == ["http://127.0.0.1:9/"]
    assert "Dashboard: http://127.0.0.1:9/" in capsys.readouterr().out
    _announcer(open_browser=False, opener=opened.append)("http://127.0.0.1:9", None)
    assert opened == ["http://127.0.0.1:9/"]


def test_a_browser_that_fails_does_not_stop_the_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(url: str) -> bool:
        raise OSError("no display")

    _announcer(open_browser=True, opener=broken)("http://127.0.0.1:9", None)
    assert "could not open a browser: no display" in capsys.readouterr().err


def test_up_passes_no_open_on(monkeypatch: pytest.MonkeyPatch) -> None:
    decided: list[bool] = []

    def fake_decision(*, no_open: bool, stdout_is_tty: bool, environ: object) -> bool:
        decided.append(no_open)
        return False

    async def fake_serve(settings: object, *, on_ready: object) -> None:
        return None

    monkeypatch.setattr(cli_main, "should_open_browser", fake_decision)
    monkeypatch.setattr("quantum_orchestrator.api.server.serve", fake_serve)
    result = CliRunner().invoke(cli_main.app, ["up", "--no-open", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert decided == [True]
