"""Request ids, extended ids and X-Ray trace ids as fixed-width ASCII rows, from random bytes.

A run draws the random bytes of every id up front (so the random streams do not depend on
which outputs are written) and formats them only when a writer asks: a compiled pass writes the
hex digits of a million UUIDs in a few milliseconds, with no Python string per id.
"""

from __future__ import annotations

import numpy as np
from numba import njit

UUID_BYTES = 16
SHORT_ID_BYTES = 12
UUID_WIDTH = 36
SHORT_ID_WIDTH = 16
XRAY_WIDTH = 35
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_BASE64URL = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", np.uint8
)


@njit(nogil=True, cache=True)
def _request_id_chars(uuid_raw, short, rest, hex_digits, out):
    for i in range(uuid_raw.shape[0]):
        if not rest[i]:
            for k in range(SHORT_ID_WIDTH):
                out[i, k] = short[i, k]
            continue
        pos = 0
        for k in range(UUID_BYTES):
            if 4 <= k <= 10 and k % 2 == 0:
                out[i, pos] = 45  # "-"
                pos += 1
            out[i, pos] = hex_digits[uuid_raw[i, k] >> 4]
            out[i, pos + 1] = hex_digits[uuid_raw[i, k] & 15]
            pos += 2


def request_id_chars(
    uuid_raw: np.ndarray, short: np.ndarray, rest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 36) request ids and their lengths: REST requests have a UUID (`8-4-4-4-12`
    lower-case hex of 16 random bytes), HTTP and WebSocket ones their short id."""
    out = np.zeros((uuid_raw.shape[0], UUID_WIDTH), np.uint8)
    _request_id_chars(uuid_raw, short, rest, _HEX, out)
    return out, np.where(rest, UUID_WIDTH, SHORT_ID_WIDTH).astype(np.int32)


@njit(nogil=True, cache=True)
def _short_id_chars(raw, alphabet, out):
    for i in range(raw.shape[0]):
        for group in range(SHORT_ID_BYTES // 3):
            bits = (raw[i, 3 * group] << 16) | (raw[i, 3 * group + 1] << 8) | raw[i, 3 * group + 2]
            for k in range(4):
                out[i, 4 * group + k] = alphabet[(bits >> (18 - 6 * k)) & 63]
        out[i, SHORT_ID_WIDTH - 1] = 61  # "="


def short_id_chars(raw: np.ndarray) -> np.ndarray:
    """(n, 16) API-Gateway-style ids: base64url of 12 random bytes, the last character `=`."""
    out = np.empty((raw.shape[0], SHORT_ID_WIDTH), np.uint8)
    _short_id_chars(raw, _BASE64URL, out)
    return out


@njit(nogil=True, cache=True)
def _reversed_chars(chars, lengths, out):
    for i in range(chars.shape[0]):
        width = lengths[i]
        for k in range(width):
            out[i, k] = chars[i, width - 1 - k]


def reversed_chars(chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each row's first `lengths[i]` characters in reverse order."""
    out = np.zeros_like(chars)
    _reversed_chars(chars, lengths, out)
    return out


@njit(nogil=True, cache=True)
def _xray_chars(epoch_s, raw, hex_digits, out):
    for i in range(raw.shape[0]):
        out[i, 0] = 49  # "1"
        out[i, 1] = 45
        seconds = epoch_s[i]
        for k in range(8):
            out[i, 9 - k] = hex_digits[seconds & 15]
            seconds >>= 4
        out[i, 10] = 45
        for k in range(12):
            byte = raw[i, 4 + k]
            out[i, 11 + 2 * k] = hex_digits[byte >> 4]
            out[i, 12 + 2 * k] = hex_digits[byte & 15]


def xray_chars(epoch_s: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """(n, 35) X-Ray trace ids `1-<epoch s, 8 hex>-<24 hex>`: the request's second and the
    last 12 bytes of its request UUID, so trace and request id are visibly one request."""
    out = np.empty((raw.shape[0], XRAY_WIDTH), np.uint8)
    _xray_chars(epoch_s.astype(np.int64), raw, _HEX, out)
    return out
