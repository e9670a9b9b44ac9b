"""What a generated run's request codes stand for: route, client and connection values, id texts.

A run holds its requests as aligned arrays of small codes (`Table`): a route index, a client,
a connection, the random bytes of its ids. Both the model's input (`run.py`) and the logged
columns (`run_columns.py`) turn those codes into values through the one `Estate` and `IdTexts`
here, so what the model reads and what the logs show agree on every route key, path, API key
and id.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from apigw_analytics.generate import ids, traffic
from apigw_analytics.generate.rendering import Chars
from apigw_analytics.generate.scenarios import Scenario

Table = dict[str, np.ndarray]
"""Aligned per-request arrays, one per name."""


class Estate:
    """The scenario's per-route and per-client tables, and the run's connection ids."""

    def __init__(self, scenario: Scenario, connection_ids: list[str]) -> None:
        self.scenario = scenario
        self.routes = traffic.route_fields(scenario)
        self.clients = traffic.client_fields(scenario)
        self.requires_key = traffic.requires_key(scenario)
        self.paths, self.path_first, self.path_count = traffic.path_table(scenario)
        self.lambda_route = np.array([r.backend.kind == "lambda" for r in scenario.routes])
        self.connection_ids = connection_ids

    def api_key_codes(self, requests: Table) -> np.ndarray:
        """Codes into `clients["api_key_id"]`: the client's key where the route requires one."""
        required = self.requires_key[requests["route_index"]]
        return np.where(required, requests["client"], -1).astype(np.int32)

    def rest(self, requests: Table) -> np.ndarray:
        """Whether each request is to a REST API."""
        return np.array([t == "rest" for t in self.routes["api_type"]])[requests["route_index"]]

    def path_codes(self, requests: Table) -> np.ndarray:
        route = requests["route_index"]
        item = np.where(self.path_count[route] > 1, requests["item"], 0)
        return (self.path_first[route] + item).astype(np.int32)

    def route_keys(self) -> list[str | None]:
        """Each route's route key, then the WebSocket connect and disconnect keys."""
        return [*self.routes["route_key"], "$connect", "$disconnect"]

    def route_key_codes(self, requests: Table) -> np.ndarray:
        """Codes into `route_keys()`: a WebSocket connect or disconnect has its own key."""
        routes = len(self.routes["route_key"])
        event = requests["event"]
        codes = np.where(event == traffic.EVENT_CONNECT, routes, requests["route_index"])
        return np.where(event == traffic.EVENT_DISCONNECT, routes + 1, codes).astype(np.int32)


class IdTexts:
    """The text of the ids of requests (from their random bytes), made once each."""

    def __init__(self, requests: Table) -> None:
        self.uuid_raw = requests["uuid_raw"]
        self.short_raw = requests["short_raw"]

    @cached_property
    def short(self) -> np.ndarray:
        return ids.short_id_chars(self.short_raw)

    def request_id(self, rest: np.ndarray) -> Chars:
        """REST requests have UUID request ids, HTTP and WebSocket ones the short id."""
        chars, lengths = ids.request_id_chars(self.uuid_raw, self.short, rest)
        return Chars(chars, None if rest.all() else lengths)
