"""CLI wiring of `gateway import` and `replay` (typer runner against the gateway's own app)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import typer
from typer.testing import CliRunner

from apigw_analytics.gateway.commands import gateway_app, replay_command

T0_MS = 1_767_225_600_000
app = typer.Typer()
app.command("replay")(replay_command)
app.add_typer(gateway_app, name="gateway")


def test_replay_what_if_and_compare(tmp_path, access_frame, write_warehouse):
    status = [429 if i % 4 == 3 else 200 for i in range(400)]
    latency = [None if s == 429 else 40 for s in status]
    frame = access_frame(T0_MS + np.arange(400) * 5, status=status, integration_latency_ms=latency)
    root = write_warehouse(tmp_path / "data", frame)
    runner = CliRunner()
    base = runner.invoke(app, ["replay", "--data", str(root), "--name", "base", "--json"])
    assert base.exit_code == 0, base.output
    report = json.loads(base.output)
    assert report["drawn_latencies"] == 100 and report["confusion"]["429"]["other"] == 100
    tight = 'stages.prod.methodSettings."/orders/GET".throttlingBurstLimit=10'
    rate = 'stages.prod.methodSettings."/orders/GET".throttlingRateLimit=50'
    what_if = runner.invoke(
        app, ["replay", "--data", str(root), "--name", "tight", "--set", tight, "--set", rate]
    )
    assert what_if.exit_code == 0 and "429s per minute" in what_if.output
    compared = runner.invoke(
        app, ["replay", "--data", str(root), "--compare", "base", "tight", "--json"]
    )
    assert json.loads(compared.output)["throttled_added"] > 0
    rerun = runner.invoke(app, ["replay", "--data", str(root), "--name", "base"])
    assert rerun.exit_code == 0
    outcomes = pl.read_parquet(root / "replay_outcomes" / "replay=base" / "*.parquet")
    assert outcomes.height == 400 and outcomes["replay_name"].unique().to_list() == ["base"]


def test_gateway_import_writes_config(tmp_path):
    stage = tmp_path / "stage.json"
    stage.write_text(json.dumps({"stageName": "prod", "methodSettings": {}}))
    output = tmp_path / "gw.json"
    result = CliRunner().invoke(app, ["gateway", "import", str(stage), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert json.loads(output.read_text())["stages"]["prod"]["apiType"] == "rest"
