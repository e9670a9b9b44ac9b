"""Write the bundled `sample_logs/`: a small, deterministic synthetic set in several formats.

Byte-for-byte reproducible (`python scripts/make_sample_logs.py`): a fixed seed and a fixed
start time. The traffic has stories an operator would look for: a burst on POST /orders that a
method throttle cuts with 429 THROTTLED, one API key exhausting its quota (429 QUOTA_EXCEEDED),
a slow backend on GET /reports giving 504 INTEGRATION_TIMEOUT, and a cached GET /products whose
hits have no integration latency. The scenario generator (`apigw-analyze generate`) replaces
this script once the reference gateway drives it.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20261123
START = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
DURATION_S = 1800
OUT = Path(__file__).resolve().parents[1] / "sample_logs"
REST_API_ID = "a1b2c3d4e5"
HTTP_API_ID = "h7k9m2p4q6"
WS_API_ID = "w3s5t7u9v1"
KEYS = ["key-gold-01", "key-silver-02", "key-free-03", "key-free-04"]
ROUTES = [  # resource, method, share, integration latency mean ms
    ("/products", "GET", 0.45, 40),
    ("/products/{id}", "GET", 0.2, 35),
    ("/orders", "POST", 0.15, 120),
    ("/orders/{id}", "GET", 0.1, 60),
    ("/reports", "GET", 0.1, 4000),
]


def _clf_time(moment: datetime) -> str:
    return moment.strftime("%d/%b/%Y:%H:%M:%S +0000")


def _request_ids(rng: random.Random) -> tuple[str, str]:
    hex_id = f"{rng.getrandbits(128):032x}"
    uuid = f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"
    extended = base64.b64encode(rng.getrandbits(80).to_bytes(10, "big")).decode()[:15] + "="
    return uuid, extended


def _rest_requests(rng: random.Random) -> list[dict]:
    """REST arrivals with outcomes: burst throttling, quota, timeouts, cache hits."""
    requests: list[dict] = []
    quota_used = 0
    cache_expires_at: dict[str, float] = {}
    t = 0.0
    while t < DURATION_S:
        burst = 600 <= t < 660
        t += rng.expovariate(12.0 if burst else 1.5)
        resource, method, _, mean_ms = rng.choices(ROUTES, [r[2] for r in ROUTES])[0]
        if burst and rng.random() < 0.8:
            resource, method, mean_ms = "/orders", "POST", 120
        key = rng.choices(KEYS, [0.4, 0.3, 0.2, 0.1])[0]
        record = {"t": t, "resource": resource, "method": method, "key": key}
        item_id = str(rng.randint(1, 40))
        record["path"] = "/prod" + resource.replace("{id}", item_id)
        integration_ms: int | None = max(3, int(rng.lognormvariate(0, 0.4) * mean_ms))
        status, response_type, error = 200 if method == "GET" else 201, None, None
        if key == "key-free-04":
            quota_used += 1
        if burst and resource == "/orders" and rng.random() < 0.55:
            status, response_type, error = 429, "THROTTLED", "Too Many Requests"
            integration_ms = None
        elif key == "key-free-04" and quota_used > 60:
            status, response_type, error = 429, "QUOTA_EXCEEDED", "Limit Exceeded"
            integration_ms = None
        elif resource == "/reports" and rng.random() < 0.12:
            status, response_type, error = 504, "INTEGRATION_TIMEOUT", "Endpoint request timed out"
            integration_ms = 29000 + rng.randint(0, 40)
        elif resource.startswith("/products"):
            cache_key = record["path"]
            if cache_expires_at.get(cache_key, -1.0) > t:
                integration_ms = None
            else:
                cache_expires_at[cache_key] = t + 300
        elif rng.random() < 0.01:
            status, response_type, error = 502, None, "Internal server error"
        overhead_ms = rng.randint(2, 15)
        record.update(
            status=status,
            response_type=response_type,
            error=error,
            integration_ms=integration_ms,
            latency_ms=(integration_ms or 0) + overhead_ms,
            bytes=rng.randint(40, 4000) if status < 400 else 40,
            ip=f"198.51.100.{rng.randint(1, 254)}",
        )
        record["request_id"], record["extended_id"] = _request_ids(rng)
        requests.append(record)
    return requests


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def _rest_json_line(r: dict) -> str:
    moment = START + timedelta(seconds=r["t"])
    fields = {
        "requestId": r["request_id"],
        "extendedRequestId": r["extended_id"],
        "ip": r["ip"],
        "caller": "-",
        "user": "-",
        "requestTime": _clf_time(moment),
        "requestTimeEpoch": str(int(moment.timestamp() * 1000)),
        "httpMethod": r["method"],
        "resourcePath": r["resource"],
        "path": r["path"],
        "status": str(r["status"]),
        "protocol": "HTTP/1.1",
        "responseLength": str(r["bytes"]),
        "responseLatency": str(r["latency_ms"]),
        "integrationLatency": _dash(r["integration_ms"]),
        "integrationStatus": _dash(200 if r["integration_ms"] and r["status"] < 500 else None),
        "errorMessage": _dash(r["error"]),
        "errorResponseType": _dash(r["response_type"]),
        "apiKeyId": r["key"],
        "userAgent": "shop-client/2.3 (+https://example.com)",
        "apiId": REST_API_ID,
        "stage": "prod",
        "domainName": f"{REST_API_ID}.execute-api.eu-west-1.amazonaws.com",
    }
    return json.dumps(fields, separators=(",", ":"))


def _http_clf_lines(rng: random.Random) -> list[str]:
    lines = []
    t = 0.0
    while t < DURATION_S:
        t += rng.expovariate(0.4)
        moment = START + timedelta(seconds=t)
        route = rng.choice(["GET /health", "GET /items", "POST /items", "$default"])
        method = route.split(" ")[0] if route != "$default" else "GET"
        status = rng.choices([200, 404, 500], [0.94, 0.05, 0.01])[0]
        request_id = base64.b64encode(rng.getrandbits(80).to_bytes(10, "big")).decode()
        lines.append(
            f'203.0.113.{rng.randint(1, 254)} - - [{_clf_time(moment)}] "{method} {route} '
            f'HTTP/1.1" {status} {rng.randint(20, 900)} {request_id[:15]}='
        )
    return lines


def _websocket_lines(rng: random.Random) -> list[str]:
    lines = []
    for index in range(40):
        moment = START + timedelta(seconds=index * 40 + rng.randint(0, 30))
        connection = base64.b64encode(rng.getrandbits(80).to_bytes(10, "big")).decode()[:15] + "="
        for event_type, route in (
            ("CONNECT", "$connect"),
            ("MESSAGE", "sendmessage"),
            ("DISCONNECT", "$disconnect"),
        ):
            request_id = base64.b64encode(rng.getrandbits(80).to_bytes(10, "big")).decode()
            lines.append(
                json.dumps(
                    {
                        "requestId": request_id[:15] + "=",
                        "ip": f"192.0.2.{rng.randint(1, 254)}",
                        "caller": "-",
                        "user": "-",
                        "requestTime": _clf_time(moment),
                        "eventType": event_type,
                        "routeKey": route,
                        "status": "200",
                        "connectionId": connection,
                        "apiId": WS_API_ID,
                        "stage": "production",
                    }
                )
            )
            moment += timedelta(seconds=rng.randint(1, 20))
    return lines


def _subscription_payload(lines: list[str], requests: list[dict]) -> bytes:
    events = [
        {
            "id": str(10**55 + index),
            "timestamp": int((START + timedelta(seconds=r["t"])).timestamp() * 1000),
            "message": line,
        }
        for index, (line, r) in enumerate(zip(lines, requests, strict=True))
    ]
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": f"API-Gateway-Access-Logs_{REST_API_ID}/prod",
        "logStream": "ae862e76abfb8de2e734cc3e8d76ae59",
        "subscriptionFilters": ["to-firehose"],
        "logEvents": events,
    }
    return gzip.compress(json.dumps(payload).encode(), mtime=0)


_LAMBDA_URI = (
    "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/"
    "arn:aws:lambda:eu-west-1:123456789012:function:shop-api/invocations"
)


def _execution_messages(r: dict) -> list[tuple[float, str]]:
    """The REST execution-log messages of one request (reference §2.3 wording), with offsets
    in seconds from its arrival."""
    stage = f"{REST_API_ID}/prod"
    masked = "**********" + r["key"][-6:]
    lines = [
        (0.0, f"Extended Request Id: {r['extended_id']}"),
        (
            0.001,
            f"Verifying Usage Plan for request: {r['request_id']}. API Key: {masked} "
            f"API Stage: {stage}",
        ),
    ]
    if r["response_type"] == "THROTTLED":
        lines.append(
            (
                0.002,
                f"Key throttle limit exceeded for RestApi {REST_API_ID}, Stage prod, "
                "Resource k0w8mc, HttpMethod POST. Limit: 10.00 Burst: 20",
            )
        )
    elif r["response_type"] == "QUOTA_EXCEEDED":
        lines.append(
            (
                0.002,
                f"API Key {masked} exceeded quota limit for API Stage {stage}: Key "
                "quota exhausted for Usage Plan ID pl4n01. Limit: 60 Period: DAY",
            )
        )
    else:
        lines += [
            (0.002, f"Usage Plan check succeeded for API Key {masked} and API Stage {stage}"),
            (0.003, f"Starting execution for request: {r['request_id']}"),
            (0.003, f"HTTP Method: {r['method']}, Resource Path: {r['path']}"),
        ]
        integration_s = (r["integration_ms"] or 0) / 1000
        if r["integration_ms"] is not None:
            lines += [
                (0.004, f"Endpoint request URI: {_LAMBDA_URI}"),
                (0.005, f"Sending request to {_LAMBDA_URI}"),
            ]
            if r["response_type"] == "INTEGRATION_TIMEOUT":
                lines.append((0.005 + integration_s, "Execution failed due to a timeout error"))
            elif r["status"] == 502:
                lines.append(
                    (
                        0.005 + integration_s,
                        "Lambda execution failed with status 200 due to customer function "
                        "error: Cannot read properties of undefined. Lambda request id: "
                        f"{r['request_id'][::-1]}",
                    )
                )
            else:
                lines.append(
                    (
                        0.005 + integration_s,
                        "Received response. Status: 200, "
                        f"Integration latency: {r['integration_ms']} ms",
                    )
                )
        if r["status"] < 400:
            lines.append((0.006 + integration_s, "Successfully completed execution"))
    lines.append((r["latency_ms"] / 1000, f"Method completed with status: {r['status']}"))
    return lines


def _execution_log_export(requests: list[dict]) -> bytes:
    """An S3 export object: `<ISO time> (<requestId>) <message>` lines, gzip, in event order."""
    events = []
    for r in requests:
        for offset_s, message in _execution_messages(r):
            moment = START + timedelta(seconds=r["t"] + offset_s)
            events.append((moment, f"({r['request_id']}) {message}"))
    events.sort(key=lambda event: event[0])
    text = "".join(
        f"{moment.strftime('%Y-%m-%dT%H:%M:%S.')}{moment.microsecond // 1000:03d}Z {message}\n"
        for moment, message in events
    )
    return gzip.compress(text.encode(), mtime=0)


def _metric_stream(requests: list[dict]) -> str:
    """CloudWatch Metric Streams JSON lines for ApiName/Stage, per minute, from the requests
    (every request is a datapoint of 1 for Count and 0/1 for the error metrics)."""
    minutes: dict[int, list[dict]] = {}
    for r in requests:
        minutes.setdefault(int(r["t"] // 60), []).append(r)
    lines = []
    for minute, batch in sorted(minutes.items()):
        stamp = int((START + timedelta(minutes=minute)).timestamp() * 1000)
        latencies = [r["latency_ms"] for r in batch]
        integration = [r["integration_ms"] for r in batch if r["integration_ms"] is not None]
        cached = [r for r in batch if r["resource"].startswith("/products") and r["status"] < 400]
        hits = sum(r["integration_ms"] is None for r in cached)
        series = {
            "Count": (len(batch), len(batch), 1, 1),
            "4XXError": (len(batch), sum(400 <= r["status"] < 500 for r in batch), 0, 1),
            "5XXError": (len(batch), sum(r["status"] >= 500 for r in batch), 0, 1),
            "Latency": (len(latencies), sum(latencies), min(latencies), max(latencies)),
            "CacheHitCount": (len(cached), hits, 0, 1),
            "CacheMissCount": (len(cached), len(cached) - hits, 0, 1),
        }
        if integration:
            series["IntegrationLatency"] = (
                len(integration),
                sum(integration),
                min(integration),
                max(integration),
            )
        for name, (count, total, low, high) in series.items():
            unit = "Milliseconds" if name.endswith("Latency") else "Count"
            lines.append(
                json.dumps(
                    {
                        "metric_stream_name": "apigw-to-s3",
                        "account_id": "123456789012",
                        "region": "eu-west-1",
                        "namespace": "AWS/ApiGateway",
                        "metric_name": name,
                        "dimensions": {"ApiName": "shop", "Stage": "prod"},
                        "timestamp": stamp,
                        "value": {
                            "max": float(high),
                            "min": float(low),
                            "sum": float(total),
                            "count": float(count),
                        },
                        "unit": unit,
                    }
                )
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write every sample file (overwriting), deterministically."""
    rng = random.Random(SEED)
    requests = _rest_requests(rng)
    json_lines = [_rest_json_line(r) for r in requests]
    cut = int(len(json_lines) * 0.8)
    OUT.mkdir(exist_ok=True)
    (OUT / "rest-access-json.log").write_text("\n".join(json_lines[:cut]) + "\n")
    (OUT / "rest-access-subscription.json.gz").write_bytes(
        _subscription_payload(json_lines[cut:], requests[cut:])
    )
    (OUT / "http-access-clf.log").write_text("\n".join(_http_clf_lines(rng)) + "\n")
    (OUT / "websocket-access.jsonl").write_text("\n".join(_websocket_lines(rng)) + "\n")
    (OUT / "rest-execution-s3-export.log.gz").write_bytes(_execution_log_export(requests))
    (OUT / "rest-metric-stream.jsonl").write_text(_metric_stream(requests))


if __name__ == "__main__":
    main()
