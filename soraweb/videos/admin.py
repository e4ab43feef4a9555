from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from soraweb.catalogue.schema import SpecError
from soraweb.money import money
from soraweb.ops.redaction import provider_secrets, redact
from soraweb.providers.base import ChatTools, ProviderError, WireFormat
from soraweb.providers.transport import origin_of
from soraweb.videos import causes, services
from soraweb.videos.admin_catalogue import CatalogueAdmin
from soraweb.videos.causes import Cause
from soraweb.videos.connection import provider_test_connection
from soraweb.videos.labels import orientation_label, size_label
from soraweb.videos.models import (
    JobEvent,
    JobState,
    Prompt,
    Provider,
    ReferenceImage,
    SentImage,
    VideoJob,
    VideoModel,
)
from soraweb.videos.stuck import stuck_q, stuck_reason

ADMIN_CSS = "css/ops-admin.css"


# Each wire format in one sentence, by what the relay's documentation shows (providers.md).
WIRE_FORMAT_HELP = {
    WireFormat.UNIFIED: gettext_lazy(
        "the relay's docs show POST /video/create and GET /video/query (most Sora relays)."
    ),
    WireFormat.CHAT: gettext_lazy(
        "the relay makes videos through POST /chat/completions and streams its progress as chat "
        "text."
    ),
    WireFormat.OPENAI: gettext_lazy(
        "OpenAI's Videos API: POST /videos, then GET /videos/{id} and /videos/{id}/content."
    ),
    WireFormat.NEWAPI: gettext_lazy(
        "new-api gateways: POST /video/generations, then GET /video/generations/{task_id}."
    ),
}
ADD_ONLY_HIDDEN = ("clear_api_key", "clear_webhook_secret")


class ProviderForm(forms.ModelForm):
    """The API key and the webhook secret are write-only: their fields are always empty, and
    empty means "keep the stored one".

    A stored key belongs to the address it was typed for: changing the base URL or the extra
    headers requires the key to be typed again, or "Test connection" would hand the stored key
    to whatever host the new URL names.
    """

    api_key = forms.CharField(
        label=gettext_lazy("API key"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Leave empty to keep the current key. The key is never shown again."
        ),
    )
    clear_api_key = forms.BooleanField(label=gettext_lazy("Remove the stored key"), required=False)
    base_url = forms.URLField(
        label=gettext_lazy("Base URL"),
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy("For example https://relay.example.com/v1"),
    )
    webhook_secret = forms.CharField(
        label=gettext_lazy("Webhook secret"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Leave empty to keep the current secret. The secret is never shown again."
        ),
    )
    clear_webhook_secret = forms.BooleanField(
        label=gettext_lazy("Remove the stored webhook secret"), required=False
    )

    class Meta:
        model = Provider
        fields = [
            "name",
            "from_environment",
            "base_url",
            "wire_format",
            "api_key",
            "clear_api_key",
            "extra_headers",
            "concurrency_limit",
            "poll_interval_seconds",
            "predictive_polling",
            "webhook_secret",
            "clear_webhook_secret",
            "charges_failed_jobs",
            "chat_tools",
            "enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Optional: a form posted without it (older scripts) keeps the automatic choice.
        self.fields["chat_tools"].required = False
        wire_format = self.fields["wire_format"]
        wire_format.help_text = format_html(
            '{}<ul class="wire-formats">{}</ul>{}',
            _("How this relay expects to be asked:"),
            format_html_join(
                "", "<li><b>{}</b>: {}</li>", ((f.value, WIRE_FORMAT_HELP[f]) for f in WireFormat)
            ),
            _("Not sure? Ask your relay which endpoint it documents."),
        )
        if not self.instance.pk:
            # Nothing is stored yet, so there is no current key to keep (the admin leaves out
            # the "Remove the stored ..." boxes too: ProviderAdmin.get_fields).
            self.fields["api_key"].help_text = _("Once saved, the key is never shown again.")
            self.fields["webhook_secret"].help_text = _(
                "Optional. Once saved, the secret is never shown again."
            )

    def clean_chat_tools(self) -> str:
        return self.cleaned_data.get("chat_tools") or ChatTools.AUTO.value

    def clean_base_url(self) -> str:
        value = self.cleaned_data.get("base_url") or ""
        if value and origin_of(value) is None:
            raise ValidationError(
                _(
                    "Enter a plain http:// or https:// address without a user name, "
                    "password, backslashes or spaces."
                )
            )
        return value

    def _stored(self) -> Provider | None:
        if not self.instance.pk:
            return None
        return Provider.objects.filter(pk=self.instance.pk).first()

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns, typed
        stored = self._stored()
        if stored is None or not stored.api_key:
            return cleaned
        moved = (cleaned.get("base_url") or "") != (stored.base_url or "")
        headers_changed = "extra_headers" in cleaned and (cleaned.get("extra_headers") or {}) != (
            stored.extra_headers or {}
        )
        if (
            (moved or headers_changed)
            and not cleaned.get("api_key")
            and not cleaned.get("clear_api_key")
        ):
            self.add_error(
                "api_key",
                _(
                    "You changed the base URL or the extra headers, so type the API key again "
                    "(or tick “Remove the stored key”). The stored key is only ever sent to "
                    "the address it was entered for."
                ),
            )
        return cleaned

    def save(self, commit=True):
        provider = super().save(commit=False)
        stored = self._stored()
        new_key = self.cleaned_data.get("api_key")
        if self.cleaned_data.get("clear_api_key"):
            provider.api_key = ""
        elif not new_key:
            provider.api_key = stored.api_key if stored else ""
        new_secret = self.cleaned_data.get("webhook_secret")
        if self.cleaned_data.get("clear_webhook_secret"):
            provider.webhook_secret = ""
        elif not new_secret:
            provider.webhook_secret = stored.webhook_secret if stored else ""
        if commit:
            provider.save()
        return provider


def _report_connection(
    modeladmin: admin.ModelAdmin, request: HttpRequest, provider: Provider
) -> None:
    report = provider_test_connection(provider=provider)
    modeladmin.message_user(
        request,
        f"{provider.name}: {report.summary}",
        messages.SUCCESS if report.ok else messages.ERROR,
    )


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    change_form_template = "admin/videos/provider/change_form.html"
    list_display = [
        "name",
        "wire_format",
        "endpoint",
        "has_key",
        "concurrency_limit",
        "poll_interval_seconds",
        "charges_failed_jobs",
        "enabled",
    ]
    list_filter = ["wire_format", "enabled", "from_environment"]
    search_fields = ["name", "base_url"]
    actions = ["test_connection"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None:  # adding: no stored key or secret to remove
            return [f for f in fields if f not in ADD_ONLY_HIDDEN]
        return fields

    @admin.display(description=gettext_lazy("endpoint"))
    def endpoint(self, obj: Provider) -> str:
        if obj.from_environment:
            return _("built-in simulator") if obj.is_simulator else _("from environment")
        return obj.base_url

    @admin.display(description=gettext_lazy("API key set"), boolean=True)
    def has_key(self, obj: Provider) -> bool:
        return bool(obj.api_key)

    @admin.action(description=gettext_lazy("Test connection"))
    def test_connection(self, request: HttpRequest, queryset) -> None:
        for provider in queryset:
            _report_connection(self, request, provider)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="videos_provider_test_connection",
            ),
            *super().get_urls(),
        ]

    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:videos_provider_change", args=[object_id]))
        provider = self.get_object(request, object_id)
        if provider is None:
            raise Http404
        if not self.has_view_permission(request, provider):
            raise PermissionDenied
        _report_connection(self, request, provider)
        return HttpResponseRedirect(reverse("admin:videos_provider_change", args=[provider.pk]))


@admin.register(VideoModel)
class VideoModelAdmin(CatalogueAdmin):
    list_display = [
        "display_name",
        "name",
        "provider",
        "aspect_ratios",
        "resolutions",
        "durations_shown",
        "prices",
        "enabled",
        "position",
    ]
    list_filter = ["provider", "enabled"]
    list_editable = ["enabled", "position"]
    search_fields = ["name", "display_name"]
    actions = ["test_connection"]

    # The columns read the model's catalogue entry (an old-style row through the same reading),
    # in the reader's language, so a preset attached today shows what it offers, not dashes.
    def _spec(self, obj: VideoModel):
        try:
            return obj.catalogue_spec()
        except SpecError:
            return None

    def _choice_labels(self, obj: VideoModel, name: str) -> str:
        spec = self._spec(obj)
        param = spec.param(name) if spec else None
        if param is None:
            return "—"
        lang = get_language() or "en"
        return ", ".join(choice.label.get(lang) for choice in param.choices) or "—"

    @admin.display(description=gettext_lazy("aspect ratios"))
    def aspect_ratios(self, obj: VideoModel) -> str:
        return self._choice_labels(obj, "aspect_ratio")

    @admin.display(description=gettext_lazy("resolutions"))
    def resolutions(self, obj: VideoModel) -> str:
        return self._choice_labels(obj, "resolution")

    @admin.display(description=gettext_lazy("durations (seconds)"))
    def durations_shown(self, obj: VideoModel) -> str:
        spec = self._spec(obj)
        param = spec.param("duration") if spec else None
        if param is None:
            return "—"
        if param.values:
            return ", ".join(str(seconds) for seconds in param.values)
        return f"{param.min}–{param.max}"

    @admin.display(description=gettext_lazy("price"))
    def prices(self, obj: VideoModel) -> str:
        spec = self._spec(obj)
        if spec is None or spec.price is None or not spec.price.rows:
            return "—"
        amounts = sorted({row.amount for row in spec.price.rows})
        low, high = money(amounts[0]), money(amounts[-1])
        span = low if low == high else f"{low}–{high}"
        if spec.price.per == "second":
            return _("%(span)s per second") % {"span": span}
        return _("%(span)s per video") % {"span": span}

    @admin.action(description=gettext_lazy("Test connection to the provider"))
    def test_connection(self, request: HttpRequest, queryset) -> None:
        for provider in Provider.objects.filter(models__in=queryset).distinct():
            _report_connection(self, request, provider)


# --- Jobs ----------------------------------------------------------------------------------------


class CauseFilter(admin.SimpleListFilter):
    """Why jobs ended badly or wait for a person, by their recorded cause."""

    title = gettext_lazy("cause")
    parameter_name = "cause"

    def lookups(self, request, model_admin):
        return [(c.value, c.label) for c in Cause if c.value in causes.PROBLEMS]

    def queryset(self, request, queryset):
        return queryset.filter(cause=self.value()) if self.value() else queryset


class StuckFilter(admin.SimpleListFilter):
    title = gettext_lazy("needs a look")
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("yes", _("Stuck or needing a look"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(stuck_q())
        return queryset


class JobEventInline(admin.TabularInline):
    """The job's history: every state change with its time and cause, and what the provider said."""

    model = JobEvent
    extra = 0
    can_delete = False
    verbose_name = gettext_lazy("event")
    verbose_name_plural = gettext_lazy("Event log")
    readonly_fields = ("at", "change", "what", "provider_response")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("change"))
    def change(self, obj: JobEvent) -> str:
        def label(state: str) -> str:
            return str(JobState(state).label) if state in JobState.values else state or "—"

        if obj.from_state == obj.to_state:
            return label(obj.to_state)
        return f"{label(obj.from_state)} → {label(obj.to_state)}"

    @admin.display(description=gettext_lazy("what happened"))
    def what(self, obj: JobEvent) -> str:
        return obj.sentence

    @admin.display(description=gettext_lazy("provider's answer"))
    def provider_response(self, obj: JobEvent) -> str:
        if not obj.data:
            return "—"
        # Masked when stored; masked again here in case the row predates a rule or the key.
        data = redact(obj.data, secrets=provider_secrets(obj.job.provider))
        text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html(
            '<details class="raw-json"><summary>{}</summary><pre>{}</pre></details>',
            _("Show"),
            text,
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("job__provider")


class SentImageInline(admin.TabularInline):
    """The fitted copies of the job's pictures that its provider received, beside the originals:
    what was really sent (a picture sent as uploaded has no row)."""

    model = SentImage
    extra = 0
    can_delete = False
    verbose_name = gettext_lazy("picture sent")
    verbose_name_plural = gettext_lazy("Pictures sent to the provider")
    readonly_fields = ("preview", "slot", "position", "size", "fit", "original_picture")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("picture sent"))
    def preview(self, obj: SentImage) -> str:
        url = reverse("videos:sent_image", args=[obj.job_id, obj.pk])
        return format_html(
            '<a href="{}"><img src="{}" alt="{}" height="64" loading="lazy"></a>',
            url,
            url,
            _("The picture sent for %(slot)s") % {"slot": obj.slot},
        )

    @admin.display(description=gettext_lazy("size"))
    def size(self, obj: SentImage) -> str:
        return f"{obj.width} × {obj.height}"

    @admin.display(description=gettext_lazy("original picture"))
    def original_picture(self, obj: SentImage) -> str:
        image = obj.original
        return "—" if image is None else f"{image} ({image.width} × {image.height})"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("original")


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (the person who made the job will see it)"),
        max_length=500,
        widget=forms.TextInput(attrs={"size": 60}),
    )


# The fixes an admin can apply to a job: (name, button label, explanation).
@admin.register(VideoJob)
class VideoJobAdmin(admin.ModelAdmin):
    change_form_template = "admin/videos/videojob/change_form.html"
    list_display = [
        "id",
        "short_prompt",
        "owner",
        "state_label",
        "model_and_provider",
        "age",
        "cost",
    ]
    list_display_links = ["id", "short_prompt"]
    list_filter = [
        StuckFilter,
        "state",
        CauseFilter,
        "provider",
        "video_model",
        ("owner", admin.RelatedOnlyFieldListFilter),
        "created_at",
    ]
    search_fields = ["=id", "prompt__text", "remote_id", "owner__username", "error_message"]
    search_help_text = gettext_lazy(
        "Job number, words from the prompt, person, provider id or error."
    )
    list_select_related = ["owner", "prompt", "provider", "video_model"]
    date_hierarchy = "created_at"
    inlines = [SentImageInline, JobEventInline]

    def get_inlines(self, request, obj=None):
        # The pictures sent, only for a job that sent some: an empty table says nothing (and at
        # phone width it would be a scrollable box with nothing in it to focus).
        if obj is None or not obj.sent_images.exists():
            return [inline for inline in self.inlines if inline is not SentImageInline]
        return self.inlines

    actions = [
        "refresh_now",
        "cancel_jobs",
        "retry_as_new",
        "rearchive",
        "mark_failed",
        "delete_files",
    ]
    fieldsets = [
        (
            None,
            {"fields": ["owner", "prompt_text", "state", "progress", "error_message", "why_stuck"]},
        ),
        (
            gettext_lazy("Request"),
            {
                "fields": [
                    "video_model",
                    "provider",
                    "model_name",
                    "orientation_shown",
                    "size_shown",
                    "duration",
                    "cost_and_ledger",
                ]
            },
        ),
        (
            gettext_lazy("Provider"),
            {
                "fields": [
                    "remote_id",
                    "raw_status",
                    "remote_video_url",
                    "poll_count",
                    "poll_errors",
                ]
            },
        ),
        (
            gettext_lazy("Times"),
            {
                "fields": [
                    "created_at",
                    "submitted_at",
                    "started_at",
                    "provider_completed_at",
                    "finished_at",
                    "deadline_at",
                    "next_poll_at",
                    "lease_until",
                ]
            },
        ),
        (
            gettext_lazy("Saved video"),
            {
                "fields": [
                    "video",
                    "poster",
                    "video_bytes",
                    "video_sha256",
                    "archive_attempts",
                    "submit_attempts",
                    "retry_of",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        # Jobs are changed only through the fixes above, which respect the state machine.
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # -- columns ---------------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("prompt"))
    def short_prompt(self, obj: VideoJob) -> str:
        return obj.prompt.text[:60]

    @admin.display(description=gettext_lazy("prompt"))
    def prompt_text(self, obj: VideoJob) -> str:
        return obj.prompt.text

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_label(self, obj: VideoJob) -> str:
        return obj.get_state_display()

    @admin.display(description=gettext_lazy("model"), ordering="video_model")
    def model_and_provider(self, obj: VideoJob) -> str:
        # One column for both: the list fits a laptop screen with the filters beside it.
        model = obj.video_model.display_name if obj.video_model else obj.model_name
        return format_html("{}<small>{}</small>", model, obj.provider.name if obj.provider else "")

    @admin.display(description=gettext_lazy("orientation"))
    def orientation_shown(self, obj: VideoJob) -> str:
        return orientation_label(obj.orientation)

    @admin.display(description=gettext_lazy("size"))
    def size_shown(self, obj: VideoJob) -> str:
        return size_label(obj.size)

    @admin.display(description=gettext_lazy("age"), ordering="created_at")
    def age(self, obj: VideoJob) -> str:
        return timesince(obj.created_at, timezone.now(), depth=1)

    @admin.display(description=gettext_lazy("estimated cost"), ordering="estimated_cost")
    def cost(self, obj: VideoJob) -> str:
        return money(obj.estimated_cost)

    @admin.display(description=gettext_lazy("why it may be stuck"))
    def why_stuck(self, obj: VideoJob) -> str:
        return stuck_reason(obj) or "—"

    @admin.display(description=gettext_lazy("cost"))
    def cost_and_ledger(self, obj: VideoJob) -> str:
        entry = getattr(obj, "ledger_entry", None)
        if entry is None:
            return money(obj.estimated_cost)
        return f"{money(entry.amount)} · {entry.get_status_display()}"

    # -- one job: buttons on its page ------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/fix/<str:fix>/",
                self.admin_site.admin_view(require_POST(self.fix_view)),
                name="videos_videojob_fix",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if job is not None:
            available = services.fixes_available(job)
            if any(fix.needs_choice for fix in available):
                extra["show_provider_tasks"] = True
                try:
                    extra["provider_tasks"] = services.tasks_for_adoption(job=job)
                except ProviderError as exc:
                    extra["provider_tasks_error"] = exc.message
            extra.update(
                fixes=[fix for fix in available if not (fix.needs_reason or fix.needs_choice)],
                can_mark_failed=any(fix.needs_reason for fix in available),
                reason_form=ReasonForm(),
                stuck_reason=stuck_reason(job),
                admin_css=ADMIN_CSS,
                # Every field is read-only: a job changes only through the fixes above.
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def fix_view(self, request: HttpRequest, object_id: str, fix: str) -> HttpResponse:
        job = self.get_object(request, object_id)
        if job is None:
            raise Http404
        if fix not in services.FIXES_BY_NAME:
            raise Http404(f"unknown fix {fix}")
        allowed = (
            self.has_delete_permission(request, job)
            if services.FIXES_BY_NAME[fix].permission == "delete"
            else self.has_change_permission(request, job)
        )
        if not allowed:
            raise PermissionDenied
        ok, text = self._apply(
            request,
            fix,
            job,
            single=True,
            reason=request.POST.get("reason", ""),
            choice=request.POST.get("remote_id", ""),
        )
        self.message_user(request, text, messages.SUCCESS if ok else messages.ERROR)
        return HttpResponseRedirect(reverse("admin:videos_videojob_change", args=[job.pk]))

    def _apply(
        self,
        request: HttpRequest,
        fix: str,
        job: VideoJob,
        *,
        single: bool,
        reason: str = "",
        choice: str = "",
    ) -> tuple[bool, str]:
        """Run one fix from the table; (worked, a sentence saying what happened)."""
        return services.fix_run(
            name=fix, job=job, by=request.user, single=single, reason=reason, choice=choice
        )

    # -- many jobs: actions on the list ----------------------------------------------------------

    def _apply_all(self, request: HttpRequest, queryset, fix: str, reason: str = "") -> None:
        jobs = list(queryset.select_related("owner", "prompt", "provider", "video_model"))
        results = [
            self._apply(request, fix, job, single=len(jobs) == 1, reason=reason) for job in jobs
        ]
        for ok, text in results[:10]:
            self.message_user(request, text, messages.SUCCESS if ok else messages.WARNING)
        if len(results) > 10:
            done = sum(1 for ok, _text in results if ok)
            self.message_user(
                request,
                _("%(done)d of %(n)d jobs done.") % {"done": done, "n": len(results)},
                messages.INFO,
            )

    @admin.action(description=gettext_lazy("Refresh now"), permissions=["change"])
    def refresh_now(self, request, queryset) -> None:
        self._apply_all(request, queryset, "refresh")

    @admin.action(description=gettext_lazy("Cancel"), permissions=["change"])
    def cancel_jobs(self, request, queryset) -> None:
        self._apply_all(request, queryset, "cancel")

    @admin.action(description=gettext_lazy("Retry as a new job"), permissions=["change"])
    def retry_as_new(self, request, queryset) -> None:
        self._apply_all(request, queryset, "retry")

    @admin.action(description=gettext_lazy("Save the video again"), permissions=["change"])
    def rearchive(self, request, queryset) -> None:
        self._apply_all(request, queryset, "rearchive")

    @admin.action(
        description=gettext_lazy("Delete files (video and poster)"), permissions=["delete"]
    )
    def delete_files(self, request, queryset) -> None:
        self._apply_all(request, queryset, "delete_files")

    @admin.action(description=gettext_lazy("Mark failed, with a reason…"), permissions=["change"])
    def mark_failed(self, request, queryset):
        form = ReasonForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._apply_all(request, queryset, "mark_failed", reason=form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Mark jobs failed"),
            "opts": self.model._meta,
            "jobs": queryset.select_related("owner", "prompt"),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "admin_css": ADMIN_CSS,
        }
        return TemplateResponse(request, "admin/videos/videojob/mark_failed.html", context)


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["short_text", "author", "created_at"]
    search_fields = ["text", "author__username"]
    list_filter = ["created_at"]

    @admin.display(description=gettext_lazy("text"))
    def short_text(self, obj: Prompt) -> str:
        return obj.text[:80]


@admin.register(ReferenceImage)
class ReferenceImageAdmin(admin.ModelAdmin):
    list_display = ["original_name", "width", "height", "content_type", "uploaded_by", "created_at"]
    search_fields = ["original_name", "sha256"]
    list_filter = ["content_type"]


# Team accounts (no self sign-up; staff add people): see admin_team.py.
from soraweb.videos import admin_team  # noqa: E402, F401
