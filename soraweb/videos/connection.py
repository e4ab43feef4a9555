"""The admin's "Test connection": one harmless request to a provider (``VideoProvider.check``),
told in plain words. Never includes the API key."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from soraweb.providers import CheckResult, ProviderError, make_client
from soraweb.videos.models import Provider


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    latency_ms: int
    summary: str


def provider_test_connection(*, provider: Provider) -> ConnectionReport:
    try:
        result = make_client(provider.config()).check()
    except ProviderError as exc:  # the configuration itself is unusable (e.g. its address)
        result = CheckResult(False, 0, error=exc)
    return ConnectionReport(result.ok, result.latency_ms, _summary(provider, result))


def _summary(provider: Provider, result: CheckResult) -> str:
    ms = result.latency_ms
    if result.error is not None:
        return _failure(result.error, ms)
    if result.probed_status:
        return _(
            "Connected in %(ms)d ms. The provider answered and did not refuse the API key (it "
            "does not know the test job, as expected)."
        ) % {"ms": ms}
    if result.models is None:  # the made-up job's status was answered as if it existed
        return _("Connected in %(ms)d ms.") % {"ms": ms}
    summary = _("Connected in %(ms)d ms. The provider accepted the API key") % {"ms": ms}
    if not result.models:
        return summary + "."
    summary += _(" and offers %(n)d models.") % {"n": len(result.models)}
    enabled = set(provider.models.filter(enabled=True).values_list("name", flat=True))
    missing = sorted(enabled - result.models)
    if missing:
        summary += " " + _("It does not list: %(names)s.") % {"names": ", ".join(missing)}
    return summary


def _failure(exc: ProviderError, ms: int) -> str:
    code = exc.status_code
    if code in (401, 403):
        text = _("Reached the provider in %(ms)d ms, but it refused the API key: %(reason)s")
    elif code == 429:
        text = _(
            "Reached the provider in %(ms)d ms, but it is limiting requests right now: %(reason)s"
        )
    elif code is not None and code >= 500:
        text = _("Reached the provider in %(ms)d ms, but it reported a problem: %(reason)s")
    elif code is not None:
        text = _(
            "Reached the provider in %(ms)d ms, but it turned the test request down: %(reason)s"
        )
    else:
        text = _("Could not reach the provider (after %(ms)d ms): %(reason)s")
    return text % {"ms": ms, "reason": exc.message}
