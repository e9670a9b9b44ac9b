"""The listings of a scenario's APIs, as a user saves them to name REST metrics by API id.

REST metrics carry the API's name (`ApiName`), logs its id; `aws apigateway get-rest-apis` and
`aws apigatewayv2 get-apis` are what tie the two, so the generator writes both as the CLI v2
prints them (keys sorted, 4-space indent, ISO 8601 times with `+00:00`), one complete page each.
Creation dates are fixed offsets before the run's start, so the output stays deterministic.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apigw_analytics.generate.scenarios import Api

REGION = "eu-west-1"
_FIRST_CREATED_DAYS_BEFORE = 400
_DAYS_BETWEEN_CREATIONS = 37


def _created(start: datetime, index: int) -> str:
    """Creation time of the index-th API of the estate: weeks apart, well before the run."""
    day = start.replace(hour=9, minute=0, second=0, microsecond=0)
    created = day - timedelta(days=_FIRST_CREATED_DAYS_BEFORE - index * _DAYS_BETWEEN_CREATIONS)
    return (created + timedelta(minutes=13 * index)).isoformat()


def _distinct(apis: tuple[Api, ...]) -> list[tuple[int, Api]]:
    """Each API once (the estate lists one entry per API stage), with its estate position."""
    seen: dict[str, tuple[int, Api]] = {}
    for index, api in enumerate(apis):
        seen.setdefault(api.api_id, (index, api))
    return list(seen.values())


def rest_api_listing(apis: tuple[Api, ...], start: datetime) -> dict:
    """`aws apigateway get-rest-apis` output for the REST APIs."""
    items = [
        {
            "apiKeySource": "HEADER",
            "createdDate": _created(start, index),
            "disableExecuteApiEndpoint": False,
            "endpointConfiguration": {"types": ["REGIONAL"]},
            "id": api.api_id,
            "name": api.name,
            "rootResourceId": api.api_id[::-1][:6],
        }
        for index, api in _distinct(apis)
        if api.api_type == "rest"
    ]
    return {"items": items}


def v2_api_listing(apis: tuple[Api, ...], start: datetime) -> dict:
    """`aws apigatewayv2 get-apis` output for the HTTP and WebSocket APIs."""
    items = []
    for index, api in _distinct(apis):
        if api.api_type == "rest":
            continue
        websocket = api.api_type == "websocket"
        items.append(
            {
                "ApiEndpoint": f"{'wss' if websocket else 'https'}://{api.api_id}.execute-api."
                f"{REGION}.amazonaws.com",
                "ApiId": api.api_id,
                "ApiKeySelectionExpression": "$request.header.x-api-key",
                "CreatedDate": _created(start, index),
                "DisableExecuteApiEndpoint": False,
                "Name": api.name,
                "ProtocolType": "WEBSOCKET" if websocket else "HTTP",
                "RouteSelectionExpression": "$request.body.action"
                if websocket
                else "$request.method $request.path",
                "Tags": {},
            }
        )
    return {"Items": items}
