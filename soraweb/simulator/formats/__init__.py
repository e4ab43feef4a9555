"""The four wire formats of ``shared/spec/providers.md``, one module each, served by one
handler over one job store: ``unified``, ``chat``, ``openai``, ``newapi``. What they share (the
catalogue's per-model rules, value parsing) is in ``shared``.
"""

from __future__ import annotations

from ..http import MISC_ROUTES
from . import chat, newapi, openai, unified


class Handler(unified.UnifiedRoutes, chat.ChatRoutes, openai.OpenAIRoutes, newapi.NewapiRoutes):
    """The request handler of the simulator: every format's routes and the misc ones."""

    routes = (*unified.ROUTES, *chat.ROUTES, *openai.ROUTES, *newapi.ROUTES, *MISC_ROUTES)


__all__ = ["Handler"]
