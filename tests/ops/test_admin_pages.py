"""Every operations page of the admin opens, and budgets can be set there."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from soraweb.ops.models import BudgetPolicy, LedgerStatus, OutgoingDelivery, TeamWebhook
from soraweb.videos.models import JobState
from tests.factories import ago, seeded_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    return client


def test_the_operations_admin_pages_open(admin_client, member):
    job = seeded_row(
        member,
        state=JobState.SUCCEEDED,
        ledger=LedgerStatus.CHARGED,
        created_at=ago(minutes=5),
        seconds=60,
    )
    hook = TeamWebhook.objects.create(name="Chat", url="https://chat.example.com/hooks/1")
    delivery = OutgoingDelivery.objects.create(
        webhook=hook, job=job, event="job.succeeded", payload={"text": "hello"}
    )
    for name in ["ledgerentry", "notice", "teamwebhook", "outgoingdelivery", "userbudget"]:
        url = reverse(f"admin:ops_{name}_changelist")
        assert admin_client.get(url).status_code == 200, url
    page = admin_client.get(reverse("admin:ops_outgoingdelivery_change", args=[delivery.pk]))
    assert "&quot;text&quot;: &quot;hello&quot;" in page.content.decode()
    assert (
        admin_client.get(reverse("admin:ops_teamwebhook_change", args=[hook.pk])).status_code == 200
    )
    listing = admin_client.get(reverse("admin:videos_videojob_changelist")).content.decode()
    for column in ["Owner", "State", "Provider", "Age", "Estimated cost"]:
        assert column in listing


def test_the_team_budget_is_one_page_with_four_limits(admin_client):
    response = admin_client.get(reverse("admin:ops_budgetpolicy_changelist"))
    assert response.status_code == 302
    policy = BudgetPolicy.load()
    assert response["Location"] == reverse("admin:ops_budgetpolicy_change", args=[policy.pk])
    admin_client.post(
        response["Location"],
        {
            "team_daily_limit": "40",
            "team_monthly_limit": "600",
            "user_daily_limit": "15",
            "user_monthly_limit": "",
            "max_active_jobs_per_user": "5",
            "max_jobs_per_minute_per_user": "20",
        },
    )
    policy.refresh_from_db()
    assert (policy.team_daily_limit, policy.user_monthly_limit) == (Decimal("40"), None)
    assert policy.max_active_jobs_per_user == 5
