"""`disparo-agenda demo` runs the whole flow and its next steps come in an order that works: the stack
(with the simulator as the send endpoint) first, then the calls that need it, then the inbox."""

from __future__ import annotations

from pathlib import Path


def test_demo_runs_and_its_next_steps_start_the_stack_first(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DISPARO_AGENDA_HOME", str(tmp_path))
    code, out, err = cli("demo", "--rows", "60")
    assert code == 0, err
    steps = out[out.index("Próximos passos") :]
    first_stack = steps.index("disparo-agenda dev --mcp-sim")
    assert (
        first_stack
        < steps.index("curl")
        < steps.index(f"cp minha_planilha.xlsx {tmp_path / 'inbox' / 'demo'}")
    )
    assert "mcp-sim --port" not in steps and "export MCP_" not in steps  # the dev stack wires the simulator
    assert (tmp_path / "inbox" / "demo").is_dir()
