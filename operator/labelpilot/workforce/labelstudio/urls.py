"""Where the Label Studio API token may be sent.

`https://` anywhere. Plain `http://` only where the token does not cross a network in
clear text: a loopback address or `localhost`, or an in-cluster service name (one DNS
label without dots that starts with a letter, so never a number that resolves as an IP
address, or a name ending in `.svc` or `.svc.cluster.local`). Anything else, and a URL
with a user or password in it, is refused (UnsafeUrl).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from labelpilot.workforce.labelstudio.errors import UnsafeUrl

CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local")
# a Kubernetes service name: an RFC 1035 label (so never a number such as 2130706433)
SERVICE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DEFAULT_PORTS = {"http": 80, "https": 443}
FIELD = "workforce.labelStudio.url"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _local(host: str) -> bool:
    """Whether plain http to `host` stays on this machine or inside the cluster."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    name = host.rstrip(".")
    if name == "localhost" or SERVICE.match(name):
        return True
    suffix = next((s for s in CLUSTER_SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        return False
    labels = name[: -len(suffix)].split(".")
    return bool(SERVICE.match(labels[0])) and all(DNS_LABEL.match(x) for x in labels[1:])


def checked(url: str) -> str:
    """`url`, when the token may be sent there; raises UnsafeUrl naming why not."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise UnsafeUrl(f"{FIELD}: not a valid URL ({exc})") from exc
    if parts.scheme not in DEFAULT_PORTS or not host:
        raise UnsafeUrl(
            f"{FIELD}: {parts.scheme or 'no'} scheme or no host; it must be http(s)://host[:port]"
        )
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl(
            f"{FIELD} for {_bracketed(host)}: a user or password in the URL is "
            "not allowed; the API token comes from its Secret"
        )
    if parts.scheme == "http" and not _local(host):
        raise UnsafeUrl(
            f"{FIELD} http://{_bracketed(host)}: plain http would send the API token across "
            "the network in clear text; use https://, or plain http only to a loopback "
            "address, localhost or an in-cluster service name (without dots, or ending in "
            ".svc or .svc.cluster.local)"
        )
    return url


def origin(url: str) -> str:
    """scheme://host:port, the default port spelled out, so equal origins compare equal."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        port = None
    return f"{parts.scheme}://{_bracketed(parts.hostname or '')}:{port}"
