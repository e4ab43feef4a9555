from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from soraweb.videos.models import JobEvent, Prompt, Provider, ReferenceImage, VideoJob, VideoModel


class ProviderForm(forms.ModelForm):
    """The API key is write-only: the field is always empty, and empty means "keep the old one"."""

    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the current key. The key is never shown again."),
    )
    clear_api_key = forms.BooleanField(label=_("Remove the stored key"), required=False)
    base_url = forms.URLField(
        label=_("base URL"),
        required=False,
        assume_scheme="https",
        help_text=_("For example https://relay.example.com/v1"),
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
            "webhook_secret",
            "charges_failed_jobs",
            "enabled",
        ]

    def save(self, commit=True):
        provider = super().save(commit=False)
        new_key = self.cleaned_data.get("api_key")
        if self.cleaned_data.get("clear_api_key"):
            provider.api_key = ""
        elif not new_key and provider.pk:
            provider.api_key = (
                Provider.objects.filter(pk=provider.pk).values_list("api_key", flat=True).first()
                or ""
            )
        if commit:
            provider.save()
        return provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = [
        "name",
        "wire_format",
        "endpoint",
        "has_key",
        "concurrency_limit",
        "poll_interval_seconds",
        "enabled",
    ]
    list_filter = ["wire_format", "enabled", "from_environment"]
    search_fields = ["name", "base_url"]

    @admin.display(description=_("endpoint"))
    def endpoint(self, obj: Provider) -> str:
        if obj.from_environment:
            return _("built-in simulator") if obj.is_simulator else _("from environment")
        return obj.base_url

    @admin.display(description=_("API key set"), boolean=True)
    def has_key(self, obj: Provider) -> bool:
        return bool(obj.api_key)


@admin.register(VideoModel)
class VideoModelAdmin(admin.ModelAdmin):
    list_display = [
        "display_name",
        "name",
        "provider",
        "orientations",
        "sizes",
        "durations",
        "max_images",
        "enabled",
        "position",
    ]
    list_filter = ["provider", "enabled"]
    list_editable = ["enabled", "position"]
    search_fields = ["name", "display_name"]


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "from_state", "to_state", "message", "data"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(VideoJob)
class VideoJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "short_prompt",
        "owner",
        "state",
        "progress",
        "model_name",
        "provider",
        "estimated_cost",
        "created_at",
    ]
    list_filter = ["state", "provider", "video_model", "orientation", "created_at"]
    search_fields = ["prompt__text", "remote_id", "owner__username", "error_message"]
    list_select_related = ["owner", "prompt", "provider"]
    raw_id_fields = ["prompt", "retry_of"]
    filter_horizontal = ["images"]
    date_hierarchy = "created_at"
    inlines = [JobEventInline]
    readonly_fields = [
        "created_at",
        "submitted_at",
        "started_at",
        "provider_completed_at",
        "finished_at",
        "video_sha256",
        "video_bytes",
    ]

    @admin.display(description=_("prompt"))
    def short_prompt(self, obj: VideoJob) -> str:
        return format_html("{}", obj.prompt.text[:60])


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["short_text", "author", "created_at"]
    search_fields = ["text", "author__username"]
    list_filter = ["created_at"]

    @admin.display(description=_("text"))
    def short_text(self, obj: Prompt) -> str:
        return obj.text[:80]


@admin.register(ReferenceImage)
class ReferenceImageAdmin(admin.ModelAdmin):
    list_display = ["original_name", "width", "height", "content_type", "uploaded_by", "created_at"]
    search_fields = ["original_name", "sha256"]
    list_filter = ["content_type"]
