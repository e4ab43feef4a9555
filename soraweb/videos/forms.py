from __future__ import annotations

import secrets

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from soraweb.videos.images import ValidatedImage, validate_image
from soraweb.videos.models import VideoModel

ORIENTATION_LABELS = {
    "portrait": gettext_lazy("Portrait (tall)"),
    "landscape": gettext_lazy("Landscape (wide)"),
}
SIZE_LABELS = {"small": gettext_lazy("Small (720p)"), "large": gettext_lazy("Large (1080p)")}


def size_label(token: str) -> str:
    return str(SIZE_LABELS.get(token, token))


def orientation_label(token: str) -> str:
    return str(ORIENTATION_LABELS.get(token, token))


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    widget = MultipleImageInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleImageField, self).clean(f, initial) for f in files]


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(24)


class JobForm(forms.Form):
    prompt = forms.CharField(
        label=gettext_lazy("Prompt"),
        max_length=32000,
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "placeholder": gettext_lazy(
                    "A paper boat sails across a rainy street at dusk, cinematic"
                ),
            }
        ),
        error_messages={"required": gettext_lazy("Describe the video you want.")},
    )
    video_model = forms.ModelChoiceField(
        label=gettext_lazy("Model"),
        queryset=VideoModel.objects.none(),
        empty_label=None,
        error_messages={
            "invalid_choice": gettext_lazy(
                "That model is not available any more; pick another one."
            )
        },
    )
    orientation = forms.ChoiceField(label=gettext_lazy("Orientation"))
    size = forms.ChoiceField(label=gettext_lazy("Size"))
    duration = forms.TypedChoiceField(label=gettext_lazy("Duration"), coerce=int)
    images = MultipleImageField(
        label=gettext_lazy("Reference images"),
        required=False,
        widget=MultipleImageInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        models = list(
            VideoModel.objects.filter(enabled=True, provider__enabled=True).select_related(
                "provider"
            )
        )
        self.fields["video_model"].queryset = VideoModel.objects.filter(
            pk__in=[m.pk for m in models]
        )
        self.models = models
        self.selected_model = self._selected_model(models)
        self._apply_rules(self.selected_model)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", new_idempotency_key())
        self.validated_images: list[ValidatedImage] = []

    def _selected_model(self, models: list[VideoModel]) -> VideoModel | None:
        wanted = self.data.get("video_model") if self.is_bound else self.initial.get("video_model")
        for model in models:
            if str(model.pk) == str(getattr(wanted, "pk", wanted)):
                return model
        return models[0] if models else None

    def _apply_rules(self, model: VideoModel | None) -> None:
        if model is None:
            for name in ("orientation", "size", "duration"):
                self.fields[name].choices = []
            return
        self.fields["orientation"].choices = [(o, orientation_label(o)) for o in model.orientations]
        self.fields["size"].choices = [(s, size_label(s)) for s in model.sizes]
        self.fields["duration"].choices = [
            (int(d), _("%(n)d seconds") % {"n": int(d)}) for d in model.durations
        ]
        self.fields["images"].disabled = model.max_images == 0
        # Say which rule was broken and what is allowed, not Django's generic "invalid choice".
        name = model.display_name
        self.fields["orientation"].error_messages["invalid_choice"] = _(
            "%(model)s can only make: %(allowed)s."
        ) % {"model": name, "allowed": ", ".join(orientation_label(o) for o in model.orientations)}
        self.fields["size"].error_messages["invalid_choice"] = _(
            "%(model)s only offers the sizes: %(allowed)s."
        ) % {"model": name, "allowed": ", ".join(size_label(s) for s in model.sizes)}
        self.fields["duration"].error_messages["invalid_choice"] = _(
            "%(model)s only makes videos of %(allowed)s seconds."
        ) % {"model": name, "allowed": ", ".join(str(d) for d in model.durations)}
        if not self.is_bound:
            self.initial["video_model"] = model.pk
            self.initial.setdefault(
                "orientation", model.orientations[0] if model.orientations else ""
            )
            self.initial.setdefault(
                "size", model.default_size or (model.sizes[0] if model.sizes else "")
            )
            self.initial.setdefault(
                "duration",
                model.default_duration or (model.durations[0] if model.durations else ""),
            )

    def clean_images(self):
        files = self.cleaned_data.get("images") or []
        model = self.selected_model
        if files and model is not None and len(files) > model.max_images:
            if model.max_images == 0:
                raise ValidationError(
                    _("%(model)s does not take reference images.") % {"model": model.display_name}
                )
            raise ValidationError(
                _("%(model)s takes at most %(n)d reference image(s).")
                % {"model": model.display_name, "n": model.max_images}
            )
        errors, validated = [], []
        for upload in files:
            try:
                validated.append(validate_image(upload))
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        self.validated_images = validated
        return files

    @property
    def option_fields(self):
        return [self["orientation"], self["size"], self["duration"]]

    def estimated_cost(self):
        model = self.selected_model
        if model is None:
            return None
        size = self.data.get("size") if self.is_bound else self.initial.get("size")
        try:
            duration = int(
                self.data.get("duration") if self.is_bound else self.initial.get("duration")
            )
        except (TypeError, ValueError):
            return None
        if size not in model.sizes:
            size = model.sizes[0] if model.sizes else ""
        return model.estimate_cost(size, duration)
