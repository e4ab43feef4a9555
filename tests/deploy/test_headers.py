"""Every response carries a Content-Security-Policy and a Permissions-Policy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from soraweb.security import csp_policy, s3_origins

pytestmark = pytest.mark.django_db


def _directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.mark.parametrize("name", ["login", "healthz", "admin:login"])
def test_pages_carry_a_strict_content_security_policy(client, name):
    response = client.get(reverse(name))
    policy = _directives(response["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_signed_in_pages_have_no_inline_scripts(client, member):
    client.force_login(member)
    html = client.get(reverse("videos:studio")).content.decode()
    for tag in html.split("<script")[1:]:
        assert "src=" in tag.split(">", 1)[0], "an inline <script> would be blocked by the CSP"
    assert " onclick=" not in html and " onload=" not in html


def test_presigned_media_origins_are_allowed_only_for_media():
    policy = _directives(
        csp_policy(media_origins=s3_origins("https://s3.example.net:9000", "videos"))
    )
    assert "https://s3.example.net:9000" in policy["media-src"]
    assert "https://videos.s3.example.net:9000" in policy["img-src"]
    assert "s3.example.net" not in policy["script-src"] + policy["connect-src"]
    assert s3_origins("", "videos") == ("https://*.amazonaws.com",)
    assert s3_origins("https://s3.example.net", "") == ()
