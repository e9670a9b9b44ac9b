"""Metric export documents hold many datapoints: the ingest counts still reconcile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apigw_analytics.ingest.pipeline import ingest_paths

DOCUMENTS = (
    "aws-cli-v2-docs_cloudwatch-get-metric-data-output.json",
    "aws-cli-examples_cloudwatch-get-metric-statistics-output.json",
)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_document_datapoints_reconcile(realworld_dir: Path, tmp_path: Path, name: str) -> None:
    summary = ingest_paths(
        [realworld_dir / name], tmp_path, options={"dimensions": {"ApiName": "x"}}
    )
    (source,) = summary.sources
    assert source.error is None
    document = json.loads((realworld_dir / name).read_text())
    datapoints = document.get("Datapoints") or [
        value for result in document["MetricDataResults"] for value in result["Values"]
    ]
    assert source.records_read == len(datapoints)
    assert source.reconciles
    assert source.records_parsed == sum(source.rows_by_kind.values()) + source.duplicates_dropped
