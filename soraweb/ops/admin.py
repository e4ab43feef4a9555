from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from soraweb.money import money
from soraweb.ops import selectors, services
from soraweb.ops.models import (
    BudgetPolicy,
    LedgerEntry,
    Notice,
    OutgoingDelivery,
    TeamWebhook,
    UserBudget,
)
from soraweb.videos.causes import Cause
from soraweb.videos.models import JobState


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by soraweb itself: looked at, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(BudgetPolicy)
class BudgetPolicyAdmin(admin.ModelAdmin):
    fieldsets = [
        (_("The whole team"), {"fields": ["team_daily_limit", "team_monthly_limit"]}),
        (
            _("Each person (unless they have a personal budget)"),
            {"fields": ["user_daily_limit", "user_monthly_limit"]},
        ),
        (_("Reviews"), {"fields": ["allow_self_approval"]}),
        (
            _("Abuse limits (each person)"),
            {"fields": ["max_active_jobs_per_user", "max_jobs_per_minute_per_user"]},
        ),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not BudgetPolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # There is only one team budget: go straight to it.
        policy = BudgetPolicy.load()
        return HttpResponseRedirect(reverse("admin:ops_budgetpolicy_change", args=[policy.pk]))


@admin.register(UserBudget)
class UserBudgetAdmin(admin.ModelAdmin):
    list_display = ["user", "daily_limit", "monthly_limit", "spent_today", "spent_this_month"]
    autocomplete_fields = ["user"]
    search_fields = ["user__username"]

    @admin.display(description=_("spent today"))
    def spent_today(self, obj: UserBudget) -> str:
        return money(selectors.spend_totals(user=obj.user).user_day)

    @admin.display(description=_("spent this month"))
    def spent_this_month(self, obj: UserBudget) -> str:
        return money(selectors.spend_totals(user=obj.user).user_month)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "username",
        "model_name",
        "amount",
        "status",
        "outcome",
        "charges_failed_jobs",
        "job_link",
    ]
    list_filter = ["status", "model_name", "provider", "charges_failed_jobs", "created_at"]
    search_fields = ["username", "model_name", "=job__id"]
    date_hierarchy = "created_at"
    list_select_related = ["job"]

    @admin.display(description=_("job"))
    def job_link(self, obj: LedgerEntry) -> str:
        if not obj.job_id:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:videos_videojob_change", args=[obj.job_id]),
            obj.job_id,
        )


def notice_kind_label(kind: str) -> str:
    """What a notice is about, in the reader's language (kinds are job states or causes)."""
    if kind in JobState.values:
        return str(JobState(kind).label)
    if kind in Cause.values:
        return str(Cause(kind).label)
    if kind == services.HELP_ASKED:
        return str(_("An admin was asked to look"))
    return kind


class NoticeKindFilter(admin.SimpleListFilter):
    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        kinds = Notice.objects.order_by("kind").values_list("kind", flat=True).distinct()
        return [(kind, notice_kind_label(kind)) for kind in kinds]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "kind_label", "prompt_excerpt", "read_at"]
    list_filter = [NoticeKindFilter, "created_at"]
    search_fields = ["user__username", "prompt_excerpt"]
    fields = ["user", "job", "kind_label", "prompt_excerpt", "what", "created_at", "read_at"]
    readonly_fields = ["kind_label", "what"]

    @admin.display(description=_("kind"), ordering="kind")
    def kind_label(self, obj: Notice) -> str:
        return notice_kind_label(obj.kind)

    @admin.display(description=_("detail"))
    def what(self, obj: Notice) -> str:
        return obj.detail_text or "—"


class TeamWebhookForm(forms.ModelForm):
    url = forms.URLField(
        label=_("URL"),
        max_length=2000,
        assume_scheme="https",
        help_text=TeamWebhook._meta.get_field("url").help_text,
    )

    class Meta:
        model = TeamWebhook
        fields = ["name", "url", "secret", "only_succeeded", "enabled"]


@admin.register(TeamWebhook)
class TeamWebhookAdmin(admin.ModelAdmin):
    form = TeamWebhookForm
    list_display = ["name", "url", "enabled", "only_succeeded", "last_delivery"]
    list_filter = ["enabled"]
    actions = ["send_test"]

    @admin.display(description=_("last delivery"))
    def last_delivery(self, obj: TeamWebhook) -> str:
        last = obj.deliveries.order_by("-created_at").first()
        if last is None:
            return "—"
        text = last.get_status_display()
        if last.last_error:
            text = f"{text}: {last.last_error[:120]}"
        return text

    @admin.action(description=_("Send a test message"))
    def send_test(self, request: HttpRequest, queryset) -> None:
        for hook in queryset:
            delivery = services.webhook_send_test(webhook=hook)
            if delivery.status == "delivered":
                self.message_user(
                    request,
                    _("%(name)s: the receiver accepted the test message (HTTP %(code)s).")
                    % {"name": hook.name, "code": delivery.last_status_code},
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    _("%(name)s: the test message was not accepted: %(error)s")
                    % {"name": hook.name, "error": delivery.last_error},
                    messages.ERROR,
                )


@admin.register(OutgoingDelivery)
class OutgoingDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "webhook",
        "event",
        "job",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
    ]
    list_filter = ["status", "webhook", "event"]
    search_fields = ["=delivery_id", "=job__id", "last_error"]
    readonly_fields = ["pretty_payload"]
    exclude = ["payload"]
    actions = ["send_again"]

    @admin.display(description=_("payload"))
    def pretty_payload(self, obj: OutgoingDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(description=_("Send again"))
    def send_again(self, request: HttpRequest, queryset) -> None:
        count = 0
        for delivery in queryset.exclude(status="delivered"):
            services.delivery_send_again(delivery=delivery)
            count += 1
        self.message_user(
            request,
            ngettext("%(n)d delivery sent again.", "%(n)d deliveries sent again.", count)
            % {"n": count},
        )
