"""A scripted resolver for URL-guard tests: no real DNS is ever asked.

``FakeResolver`` replaces ``socket.getaddrinfo`` (monkeypatched for the test only). Names
it knows answer from a script, one answer per lookup (the last answer repeats), so a test
can make a name answer differently on its second lookup, as a DNS-rebinding attacker's
name server does. IP literals go to the real resolver with ``AI_NUMERICHOST`` (parsed
locally, never looked up), so a connection to the checked address still works. Every name
lookup is recorded.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from typing import Any

_REAL_GETADDRINFO = socket.getaddrinfo


class FakeResolver:
    def __init__(self, answers: Mapping[str, Sequence[str]]) -> None:
        self.answers = {name.lower(): list(ips) for name, ips in answers.items()}
        self.lookups: list[str] = []

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        name = host.decode("ascii") if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            pass
        else:
            return _REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        self.lookups.append(name)
        script = self.answers.get(name.lower())
        if script is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if not script:
            return []  # a resolver that answers, with no address
        ip = script[min(self.lookups.count(name) - 1, len(script) - 1)]
        port_number = int(port) if port else 0
        if ":" in ip:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port_number, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port_number))]

    def install(self, monkeypatch: Any) -> FakeResolver:
        monkeypatch.setattr(socket, "getaddrinfo", self)
        return self
