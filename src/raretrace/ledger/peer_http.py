"""Talking to another member's registry over its HTTP API: the few calls the consortium services make.

Everything a peer answers is checked by the caller (signatures, proofs); this module only moves
bytes and turns transport failures into ``PeerUnreachableError`` so a service can tell "offline, try
later" from "answered something wrong".
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

import httpx

from raretrace.errors import RaretraceError
from raretrace.jsontypes import JSONObject


class PeerUnreachableError(RaretraceError):
    """The peer did not answer (down, refused, timed out) or answered with a server error."""

    exit_code = 7


@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    @property
    def reason(self) -> str:
        """The ``detail`` of a problem answer (RFC 9457, what raretrace's API sends), else the text."""
        try:
            data = json.loads(self.text)
        except ValueError:
            data = None
        detail = data.get("detail") if isinstance(data, dict) else None
        return detail if isinstance(detail, str) else self.text[:300]


class HttpPeer:
    """One member's API at ``endpoint`` (its base URL), through a shared ``httpx.Client``."""

    def __init__(self, endpoint: str, client: httpx.Client) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.client = client

    def _call(self, method: str, path: str, **kwargs: object) -> Answer:
        url = self.endpoint + path
        try:
            response = self.client.request(method, url, **kwargs)  # type: ignore[arg-type]  # httpx's keyword types, passed through
        except httpx.HTTPError as e:
            raise PeerUnreachableError(f"{url}: {type(e).__name__}: {e}", field="endpoint") from e
        if response.status_code >= 500:
            raise PeerUnreachableError(f"{url} answered {response.status_code}", field="endpoint")
        return Answer(response.status_code, response.text)

    def _ok(self, answer: Answer, what: str) -> str:
        if answer.status != 200:
            raise PeerUnreachableError(
                f"{self.endpoint} {what}: {answer.status} {answer.reason}", field="endpoint"
            )
        return answer.text

    # --- ledger.witnessing.LogSource ---------------------------------------------------------------
    def checkpoint(self) -> str:
        return self._ok(self._call("GET", "/checkpoint"), "checkpoint")

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        answer = self._call("GET", "/api/v1/log/consistency", params={"old": old, "new": new})
        text = self._ok(answer, "consistency proof")
        try:
            return [base64.b64decode(h, validate=True) for h in json.loads(text)["proof"]]
        except (ValueError, KeyError, TypeError, binascii.Error) as e:
            raise PeerUnreachableError(f"{self.endpoint} sent a malformed consistency proof: {e}") from e

    def verifier_key(self) -> str:
        return self._ok(self._call("GET", "/api/v1/log/public-key"), "public key").strip()

    # --- witnessing --------------------------------------------------------------------------------
    def witnessed_checkpoint(self, origin: str) -> str:
        """``GET /api/v1/witnessed``: the newest checkpoint of ``origin`` the peer cosigned."""
        answer = self._call("GET", "/api/v1/witnessed", params={"origin": origin})
        return self._ok(answer, f"checkpoint of {origin} it witnessed")

    def give_cosignatures(self, note: str) -> Answer:
        """``POST /api/v1/log/cosignatures``: the peer keeps those by witnesses it trusts."""
        return self._call("POST", "/api/v1/log/cosignatures", content=note.encode())

    def add_checkpoint(self, old: int, proof: list[bytes], note: str) -> Answer:
        """C2SP tlog-witness ``POST /add-checkpoint`` on the peer as a witness of another log."""
        body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + note
        return self._call("POST", "/add-checkpoint", content=body.encode())

    # --- shipments -----------------------------------------------------------------------------------
    def send_confirmation(self, envelope: bytes) -> Answer:
        """``POST /api/v1/confirmations`` on the exporting member."""
        headers = {"Content-Type": "application/json"}
        return self._call("POST", "/api/v1/confirmations", content=envelope, headers=headers)

    def waiting_shipments(self, request: bytes) -> list[JSONObject]:
        """``POST /api/v1/shipments/waiting`` on the exporting member: the certificates it keeps for the
        facility that signed ``request`` (``ledger.shipments``)."""
        headers = {"Content-Type": "application/json"}
        answer = self._call("POST", "/api/v1/shipments/waiting", content=request, headers=headers)
        data = self._json(self._ok(answer, "waiting shipments"), "waiting shipments")
        if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
            raise PeerUnreachableError(
                f"{self.endpoint} sent waiting shipments that are not a list of objects"
            )
        return [p for p in data if isinstance(p, dict)]

    def status_list(self) -> JSONObject:
        """``GET /status/1``: the member's signed status list (checked by whoever verifies with it)."""
        data = self._json(self._ok(self._call("GET", "/status/1"), "status list"), "status list")
        if not isinstance(data, dict):
            raise PeerUnreachableError(f"{self.endpoint} sent a status list that is not an object")
        return data

    def _json(self, text: str, what: str) -> object:
        try:
            return json.loads(text)
        except ValueError as e:
            raise PeerUnreachableError(f"{self.endpoint} sent malformed JSON for the {what}: {e}") from e
