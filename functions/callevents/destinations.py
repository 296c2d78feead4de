"""Where a webhook may point. Checked when an endpoint is added and again at every delivery,
since DNS can change in between: webhooks must not become a way into the operator's network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
# Instance metadata services by address, beside the ranges is_global already excludes.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)

Resolver = Callable[[str, int], Sequence[str]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedDestination(ValueError):
    """The URL may not receive webhooks; the message says why without echoing any secret."""


@dataclass(frozen=True)
class Destination:
    """A checked URL, and the addresses its host resolved to: the connection uses exactly these."""

    url: str
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]


def check_url(url: str) -> tuple[str, str, int, str]:
    """Section 7's shape rules: https, or plain http to a loopback host only. Returns scheme,
    host, port and request target."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedDestination(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedDestination("the URL cannot be parsed") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("https", "http") or not host:
        raise RefusedDestination("the URL must be https://host/...")
    if parts.username is not None or parts.password is not None:
        raise RefusedDestination("the URL must not carry credentials")
    if parts.fragment:
        raise RefusedDestination("the URL must not have a #fragment")
    if scheme == "http" and not is_loopback_host(host):
        raise RefusedDestination("plain http is allowed to loopback only (the local run); use https")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), target


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    address = _literal(host)
    return address is not None and address.is_loopback


# IPv6 prefixes whose last 32 bits are an IPv4 address that stacks and NAT64 gateways route to:
# IPv4-compatible (::a.b.c.d, deprecated but honoured by some) and NAT64's well-known prefix.
# Python calls both global whatever the IPv4 address they carry. (IPv4-mapped has its own test;
# 6to4, Teredo and the local-use NAT64 prefix are not global in Python's eyes already.)
IPV4_CARRYING_PREFIXES = (ipaddress.ip_network("::/96"), ipaddress.ip_network("64:ff9b::/96"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, where the network would deliver to it."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in prefix for prefix in IPV4_CARRYING_PREFIXES):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_forbidden_address(address: Address) -> bool:
    """Loopback, private, link-local, metadata, or anything else not on the public internet,
    including an IPv6 address that carries such an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None and is_forbidden_address(carried):
            return True
    return address in METADATA_ADDRESSES or not address.is_global or address.is_multicast


def is_never_a_receiver(address: Address) -> bool:
    """Addresses no webhook may reach, even from the local run: link-local and metadata services,
    multicast, and the unspecified address (alone or carried inside an IPv6 address)."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None and is_never_a_receiver(carried):
            return True
    return (
        address in METADATA_ADDRESSES
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
    )


def resolve_with_dns(host: str, port: int) -> Sequence[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class DestinationPolicy:
    """Which addresses deliveries may reach. The deployed functions use the strict policy; the
    local run, whose receivers are on this machine or its network, passes
    private_networks_allowed=True, which admits loopback and private addresses, never
    link-local or metadata ones."""

    private_networks_allowed: bool = False
    resolve: Resolver = resolve_with_dns

    def check(self, url: str) -> Destination:
        scheme, host, port, target = check_url(url)
        literal = _literal(host)
        if literal is not None:
            addresses: Sequence[str] = [str(literal)]
        else:
            try:
                addresses = self.resolve(host, port)
            except OSError:
                raise RefusedDestination(f"the host {host} does not resolve") from None
            if not addresses:
                raise RefusedDestination(f"the host {host} does not resolve")
        for address in addresses:
            parsed = ipaddress.ip_address(address.split("%")[0])
            if is_never_a_receiver(parsed):
                raise RefusedDestination(
                    f"the host {host} is or resolves to a link-local, metadata, multicast or "
                    "unspecified address"
                )
            if not self.private_networks_allowed and is_forbidden_address(parsed):
                raise RefusedDestination(
                    f"the host {host} is or resolves to a loopback, private, link-local or metadata address"
                )
        return Destination(url, scheme, host, port, target, tuple(addresses))


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
