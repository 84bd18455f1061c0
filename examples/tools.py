"""Deterministic offline tools for the example workflows (`flowc run FILE --tools
examples/tools.py`): canned threat intelligence for IP addresses and a keyword search over a
small built-in corpus. Each entry of `TOOLS` is `name: (function, JSON schema of its args)`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

THREAT_INTEL: list[dict[str, Any]] = [
    {
        "network": "185.220.101.0/24",
        "reputation": "malicious",
        "score": 95,
        "tags": ["tor-exit", "brute-force"],
        "asn": "AS208294",
        "country": "DE",
        "note": "Tor exit relays seen in SSH and RDP password spraying.",
    },
    {
        "network": "45.95.147.0/24",
        "reputation": "malicious",
        "score": 90,
        "tags": ["botnet", "mirai"],
        "asn": "AS14061",
        "country": "NL",
        "note": "Mirai-variant scanning and telnet brute force.",
    },
    {
        "network": "203.0.113.0/24",
        "reputation": "suspicious",
        "score": 60,
        "tags": ["scanner"],
        "asn": "AS64500",
        "country": "US",
        "note": "Mass port scanning; no confirmed exploitation.",
    },
    {
        "network": "198.51.100.7/32",
        "reputation": "malicious",
        "score": 88,
        "tags": ["c2", "cobalt-strike"],
        "asn": "AS64501",
        "country": "RU",
        "note": "Cobalt Strike team server observed in three incidents.",
    },
    {
        "network": "8.8.8.0/24",
        "reputation": "benign",
        "score": 0,
        "tags": ["dns", "google"],
        "asn": "AS15169",
        "country": "US",
        "note": "Google Public DNS.",
    },
    {
        "network": "10.0.0.0/8",
        "reputation": "internal",
        "score": 0,
        "tags": ["rfc1918"],
        "asn": None,
        "country": None,
        "note": "Private address space: an internal host.",
    },
    {
        "network": "192.168.0.0/16",
        "reputation": "internal",
        "score": 0,
        "tags": ["rfc1918"],
        "asn": None,
        "country": None,
        "note": "Private address space: an internal host.",
    },
]

DOCS: list[dict[str, str]] = [
    {
        "id": "kb-001",
        "title": "Rotating API keys",
        "text": "API keys are rotated from Settings > Security > API keys. Create the new key, "
        "deploy it, then revoke the old key. Revoked keys stop working within 60 seconds.",
    },
    {
        "id": "kb-002",
        "title": "Rate limits",
        "text": "The public API allows 600 requests per minute per key and 20 concurrent "
        "requests. Exceeding the limit returns HTTP 429 with a Retry-After header.",
    },
    {
        "id": "kb-003",
        "title": "Data retention",
        "text": "Run logs are kept for 30 days on the free plan and 400 days on the business "
        "plan. Deleted workspaces are purged after 14 days.",
    },
    {
        "id": "kb-004",
        "title": "Single sign-on",
        "text": "SAML single sign-on is available on the business plan. Configure the identity "
        "provider metadata URL, then enforce SSO for every member of the workspace.",
    },
    {
        "id": "kb-005",
        "title": "Exporting data",
        "text": "Workspace owners can export every run, graph and log as JSON Lines from "
        "Settings > Data > Export. Exports larger than 2 GB are split into parts.",
    },
    {
        "id": "kb-006",
        "title": "Webhooks",
        "text": "Webhooks post a JSON event when a run finishes or fails. Each delivery is signed "
        "with an HMAC-SHA256 header and retried up to 5 times with backoff.",
    },
    {
        "id": "kb-007",
        "title": "Billing cycles",
        "text": "Plans are billed monthly or yearly. Upgrades apply immediately and are prorated; "
        "downgrades take effect at the end of the current billing cycle.",
    },
    {
        "id": "kb-008",
        "title": "Two-factor authentication",
        "text": "Members enable two-factor authentication with an authenticator app or a "
        "security key. Owners can require it for the whole workspace.",
    },
]

_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "can",
        "do",
        "for",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "when",
        "with",
        "my",
        "our",
        "we",
        "you",
        "your",
        "does",
    ]
)


def lookup_ip(ip: str) -> dict[str, Any]:
    """Threat intelligence for one IPv4/IPv6 address, from a small built-in table."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return {"ip": ip, "valid": False, "reputation": "unknown", "note": "not an IP address"}
    for entry in THREAT_INTEL:
        if address in ipaddress.ip_network(entry["network"]):
            return {"ip": str(address), "valid": True, **entry}
    return {
        "ip": str(address),
        "valid": True,
        "reputation": "unknown",
        "score": None,
        "tags": [],
        "note": "no intelligence on this address",
    }


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS}


def search_docs(query: str, k: int = 3) -> list[dict[str, Any]]:
    """The `k` documents sharing the most words with `query` (ties in corpus order)."""
    wanted = _words(query)
    scored = []
    for position, doc in enumerate(DOCS):
        overlap = len(wanted & _words(doc["title"] + " " + doc["text"]))
        if overlap:
            scored.append((-overlap, position, doc))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [{"score": -score, **doc} for score, _, doc in scored[:k]]


LOOKUP_IP_SCHEMA = {
    "type": "object",
    "description": "Threat intelligence (reputation, tags, ASN) for an IP address.",
    "properties": {"ip": {"type": "string", "maxLength": 64}},
    "required": ["ip"],
    "additionalProperties": False,
}
SEARCH_DOCS_SCHEMA = {
    "type": "object",
    "description": "Keyword search over the product knowledge base.",
    "properties": {
        "query": {"type": "string", "maxLength": 2000},
        "k": {"type": "integer", "minimum": 1, "maximum": 8},
    },
    "required": ["query"],
    "additionalProperties": False,
}

TOOLS = {
    "lookup_ip": (lookup_ip, LOOKUP_IP_SCHEMA),
    "search_docs": (search_docs, SEARCH_DOCS_SCHEMA),
}
