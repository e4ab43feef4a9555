"""Every URL pattern of the project, with placeholder arguments, for the access and CSRF crawls."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# Reachable without signing in, on purpose, and why.
PUBLIC = {
    "login": "the sign-in page itself",
    "provider_webhook": "providers sign their deliveries; there is no session",
    "healthz": "load balancers and container health checks",
    "set_language": "choosing a language before signing in",
    "javascript-catalog": "translations for scripts",
}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    namespace: str


def _fill(pattern: str, number: int = 1) -> str:
    """Turn a route like ``jobs/<int:pk>/card/`` into a concrete path with placeholder values."""
    out, i = "", 0
    while i < len(pattern):
        if pattern[i] == "<":
            j = pattern.index(">", i)
            conv = pattern[i + 1 : j].split(":")[0] if ":" in pattern[i + 1 : j] else "str"
            out += {
                "int": str(number),
                "slug": "x",
                "uuid": "00000000-0000-0000-0000-000000000001",
                "path": "x",
            }.get(conv, "x")
            i = j + 1
        else:
            out += pattern[i]
            i += 1
    return out


def _walk(resolver: URLResolver, prefix: str, namespace: str, number: int):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from _walk(entry, prefix + str(entry.pattern), ns, number)
        elif isinstance(entry, URLPattern):
            raw = prefix + str(entry.pattern)
            if (
                raw.startswith("^") or "(?P" in raw
            ):  # regex routes (admin internals): filled by name below
                raw = raw.lstrip("^").rstrip("$").replace("\\Z", "")
                if "(?P" in raw or "(" in raw:
                    continue
            yield Route(entry.name or "", "/" + _fill(raw, number), namespace)


def project_routes(include_admin: bool = True, number: int = 1) -> list[Route]:
    """Every route; integer arguments take ``number`` (pass a real object's id)."""
    routes = list(_walk(get_resolver(), "", "", number))
    if not include_admin:
        routes = [r for r in routes if r.namespace != "admin"]
    return routes
