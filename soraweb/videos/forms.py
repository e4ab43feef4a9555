from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass
from datetime import date

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from soraweb.videos import selectors, services
from soraweb.videos.images import (
    ValidatedImage,
    images_visible_to,
    parse_token,
    validate_image,
)
from soraweb.videos.labels import ORIENTATION_LABELS, orientation_label, size_label
from soraweb.videos.models import (
    ImageFit,
    ReferenceImage,
    ReviewDecision,
    ReviewState,
    VideoJob,
    VideoModel,
)


def duration_label(seconds) -> str:
    return _("%(n)d seconds") % {"n": int(seconds)}


def _union(lists) -> list:
    seen: list = []
    for values in lists:
        for value in values:
            if value not in seen:
                seen.append(value)
    return seen


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    widget = MultipleImageInput

    def __init__(self, *args, **kwargs):
        # Empty files reach validate_image, whose message names the file.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

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
        label=gettext_lazy("Picture file"),
        required=False,
        widget=MultipleImageInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    image_fit = forms.ChoiceField(
        label=gettext_lazy("Fit the picture to the video frame"),
        choices=ImageFit.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, viewer=None, **kwargs):
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
            self.initial.setdefault("image_fit", ImageFit.CROP)
        self.validated_images: list[ValidatedImage] = []
        # Pictures carried over from an earlier job ("Use these settings"): offered as ticked
        # checkboxes named keep_images, kept when still ticked and no new picture was chosen.
        # They are named by their random token, and a posted one must be the person's own or
        # belong to a job they can see (``viewer``; without one, none is accepted).
        if self.is_bound and hasattr(self.data, "getlist"):
            wanted = list(dict.fromkeys(self.data.getlist("keep_images")))[:10]
        else:
            wanted = self.initial.get("keep_images") or []
        tokens = [parse_token(v) for v in wanted]
        found = [t for t in tokens if t is not None]
        pool = images_visible_to(viewer) if self.is_bound else ReferenceImage.objects.all()
        self.offered_images: list[ReferenceImage] = (
            list(pool.filter(token__in=found).order_by("id")) if found else []
        )
        self.kept_images: list[ReferenceImage] = list(self.offered_images) if self.is_bound else []
        self.kept_images_missing = self.is_bound and len(self.offered_images) < len(tokens)

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
        if "images" in self.fields:
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

    def clean_image_fit(self):
        fit = self.cleaned_data.get("image_fit") or ImageFit.CROP
        model = self.selected_model
        if fit == ImageFit.NONE and model is not None and self.needs_exact_image:
            raise ValidationError(
                _(
                    "%(model)s needs the picture to match the video frame exactly; choose crop or bars."
                )
                % {"model": model.display_name}
            )
        return fit

    def clean(self):
        cleaned = super().clean()
        # A new upload replaces a picture carried over from an earlier job.
        if self.validated_images:
            self.kept_images = []
        elif getattr(self, "kept_images_missing", False):
            self.kept_images = []
            self.add_error(
                None,
                _(
                    "A picture you chose to use again is not available any more (or is not yours "
                    "to use). Choose the picture file again."
                ),
            )
        model = self.selected_model
        if model is not None and len(self.kept_images) > model.max_images:
            self.kept_images = self.kept_images[: model.max_images]
        return cleaned

    @property
    def max_image_bytes(self) -> int:
        return settings.SORAWEB_MAX_IMAGE_BYTES

    @property
    def needs_exact_image(self) -> bool:
        model = self.selected_model
        return bool(model and selectors.provider_needs_exact_image(model.provider))

    def _current(self, name: str):
        value = self.data.get(name) if self.is_bound else self.initial.get(name)
        return "" if value is None else str(value)

    @property
    def option_fields(self):
        return [self["orientation"], self["size"], self["duration"]]

    def option_menus(self) -> list[dict]:
        """Each setting with every value some model offers; those this model lacks are disabled
        and say why, so a person sees what exists and what to switch to get it."""
        model = self.selected_model
        if model is None:
            return []
        name = model.display_name
        specs = [
            (
                "orientation",
                _union(m.orientations for m in self.models),
                list(model.orientations),
                orientation_label,
                _("%(model)s can only make: %(allowed)s."),
            ),
            (
                "size",
                _union(m.sizes for m in self.models),
                list(model.sizes),
                size_label,
                _("%(model)s only offers the sizes: %(allowed)s."),
            ),
            (
                "duration",
                sorted(_union([int(d) for d in m.durations] for m in self.models)),
                [int(d) for d in model.durations],
                duration_label,
                _("%(model)s only makes videos of %(allowed)s seconds."),
            ),
        ]
        menus = []
        for field_name, universe, allowed, label, rule in specs:
            options = []
            for value in universe:
                text = label(value)
                disabled = value not in allowed
                if disabled:
                    text = _("%(label)s (not with %(model)s)") % {"label": text, "model": name}
                options.append({"value": str(value), "label": text, "disabled": disabled})
            note = ""
            if len(allowed) < len(universe):
                shown = ", ".join(str(v) for v in allowed) if field_name == "duration" else None
                note = rule % {
                    "model": name,
                    "allowed": shown or ", ".join(label(v) for v in allowed),
                }
            menus.append(
                {
                    "field": self[field_name],
                    "options": options,
                    "note": note,
                    "value": self._current(field_name),
                }
            )
        return menus

    def fit_options(self) -> list[dict]:
        exact = self.needs_exact_image
        current = self._current("image_fit") or ImageFit.CROP
        options = []
        for value, label in ImageFit.choices:
            disabled = value == ImageFit.NONE and exact
            options.append(
                {
                    "value": value,
                    "label": label,
                    "disabled": disabled,
                    "checked": value == current and not disabled,
                }
            )
        if not any(o["checked"] for o in options):
            options[0]["checked"] = True
        return options

    @property
    def frame(self) -> tuple[int, int] | None:
        model = self.selected_model
        if model is None:
            return None
        size = self._current("size")
        orientation = self._current("orientation")
        if size not in model.sizes:
            size = model.default_size or (model.sizes[0] if model.sizes else "")
        if orientation not in model.orientations:
            orientation = model.orientations[0] if model.orientations else ""
        return selectors.video_frame(size=size, orientation=orientation)

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
            size = model.default_size or (model.sizes[0] if model.sizes else "")
        if duration not in [int(d) for d in model.durations]:
            duration = int(model.default_duration or (model.durations[0] if model.durations else 0))
        return model.estimate_cost(size, duration)


def initial_from_job(job: VideoJob, *, images: list[ReferenceImage] = ()) -> dict:
    """The create form filled in with an earlier job's prompt and settings ("Use again")."""
    return {
        "prompt": job.prompt.text,
        "video_model": job.video_model_id,
        "orientation": job.orientation,
        "size": job.size,
        "duration": job.duration,
        "image_fit": job.image_fit or ImageFit.CROP,
        "keep_images": [str(image.token) for image in images],
    }


# --- Batches ---------------------------------------------------------------------------------------

BATCH_MAX_ROWS = 100
BATCH_MAX_CSV_BYTES = 1024 * 1024
PROMPT_MAX_CHARS = 32000

# Column names a CSV may use, in English or Chinese (lower case, spaces ignored).
CSV_COLUMNS = {
    "prompt": {"prompt", "prompts", "text", "提示词", "提示", "描述"},
    "model": {"model", "模型"},
    "orientation": {"orientation", "方向", "画面方向"},
    "size": {"size", "尺寸", "大小", "清晰度"},
    "duration": {"duration", "seconds", "length", "时长", "秒数"},
}
ORIENTATION_WORDS = {
    "portrait": {"portrait", "tall", "vertical", "9:16", "竖屏", "竖", "纵向", "竖版"},
    "landscape": {"landscape", "wide", "horizontal", "16:9", "横屏", "横", "横向", "横版"},
}
SIZE_WORDS = {"small": {"small", "720p", "小", "标准"}, "large": {"large", "1080p", "大", "高清"}}
_DURATION = re.compile(r"(\d{1,4})\s*(s|sec|secs|second|seconds|秒)?", re.IGNORECASE)


def _norm(text: str) -> str:
    return "".join((text or "").split()).lower()


@dataclass
class BatchRow:
    """One row as read from the text or the CSV, before its settings are checked."""

    row: int
    prompt: str
    values: dict[str, str]


def read_prompt_lines(text: str) -> list[BatchRow]:
    return [
        BatchRow(row=number, prompt=line.strip(), values={})
        for number, line in enumerate((text or "").splitlines(), start=1)
        if line.strip()
    ]


def _decode_csv(data: bytes) -> str:
    # Excel saves UTF-8 with a byte order mark; Chinese Excel often saves GB18030.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(
        _("The CSV file could not be read; save it as “CSV UTF-8” and try again.")
    )


def read_csv_rows(data: bytes) -> tuple[list[BatchRow], list[str]]:
    """Rows of a CSV (with or without a header line) and the names of columns it ignored."""
    text = _decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise ValidationError(_("The CSV file is damaged: %(reason)s") % {"reason": exc}) from None
    if not records:
        return [], []
    columns: dict[int, str] = {}
    ignored: list[str] = []
    header = [_norm(cell) for cell in records[0]]
    has_header = any(cell in CSV_COLUMNS["prompt"] for cell in header)
    if has_header:
        for index, cell in enumerate(header):
            name = next((key for key, names in CSV_COLUMNS.items() if cell in names), None)
            if name and name not in columns.values():
                columns[index] = name
            elif records[0][index].strip():
                ignored.append(records[0][index].strip())
    else:
        columns = {0: "prompt"}
    rows = []
    for number, record in enumerate(records, start=1):
        if has_header and number == 1:
            continue
        if not any(cell.strip() for cell in record):
            continue
        values = {
            name: record[index].strip() for index, name in columns.items() if index < len(record)
        }
        rows.append(BatchRow(row=number, prompt=values.pop("prompt", ""), values=values))
    return rows, ignored


class BatchForm(JobForm):
    """Many jobs at once: prompts one per line, or a CSV with optional per-row settings. The
    model, orientation, size and duration chosen here apply wherever a row does not say."""

    prompt = None
    images = None
    image_fit = None
    prompts = forms.CharField(
        label=gettext_lazy("Prompts, one per line"),
        required=False,
        max_length=BATCH_MAX_ROWS * 2000,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    csv_file = forms.FileField(
        label=gettext_lazy("Or a CSV file"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    field_order = ["prompts", "csv_file", "video_model", "orientation", "size", "duration"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.items: list = []
        self.rejected: list = []
        self.ignored_columns: list[str] = []

    def clean(self):
        cleaned = super().clean()
        text = cleaned.get("prompts") or ""
        upload = cleaned.get("csv_file")
        if text.strip() and upload:
            raise ValidationError(_("Use either the list of prompts or a CSV file, not both."))
        if upload:
            if upload.size > BATCH_MAX_CSV_BYTES:
                raise ValidationError(
                    _("The CSV file is %(size)s; it can be at most %(limit)s.")
                    % {
                        "size": filesizeformat(upload.size),
                        "limit": filesizeformat(BATCH_MAX_CSV_BYTES),
                    }
                )
            rows, self.ignored_columns = read_csv_rows(upload.read(BATCH_MAX_CSV_BYTES + 1))
        else:
            rows = read_prompt_lines(text)
        if not rows:
            raise ValidationError(
                _("Write at least one prompt (one per line) or choose a CSV file.")
            )
        if len(rows) > BATCH_MAX_ROWS:
            raise ValidationError(
                _("A batch can have at most %(max)d rows; this one has %(n)d.")
                % {"max": BATCH_MAX_ROWS, "n": len(rows)}
            )
        if self.errors:  # the shared settings are wrong: say that first
            return cleaned
        for row in rows:
            item, errors = self._item(row, cleaned)
            if errors:
                self.rejected.append(
                    services.BatchOutcome(row=row.row, prompt=row.prompt, errors=errors)
                )
            else:
                self.items.append(item)
        return cleaned

    def _item(self, row: BatchRow, cleaned: dict):
        errors = []
        # A CSV cell is read outside a form field, so Django's NUL check does not see it, and
        # PostgreSQL cannot store a text containing NUL.
        if any("\x00" in text for text in (row.prompt, *row.values.values())):
            return None, [_("This row contains a NUL character; remove it and try again.")]
        if not row.prompt:
            errors.append(_("This row has no prompt."))
        elif len(row.prompt) > PROMPT_MAX_CHARS:
            errors.append(
                _("This prompt is longer than %(n)d characters.") % {"n": PROMPT_MAX_CHARS}
            )
        model = cleaned["video_model"]
        wanted = row.values.get("model", "")
        if wanted:
            model = next(
                (m for m in self.models if _norm(wanted) in (_norm(m.name), _norm(m.display_name))),
                None,
            )
            if model is None:
                errors.append(
                    _("Unknown model “%(name)s”; use one of: %(allowed)s.")
                    % {"name": wanted, "allowed": ", ".join(m.display_name for m in self.models)}
                )
                return None, errors
        orientation = self._word(
            row.values.get("orientation", ""), ORIENTATION_WORDS, orientation_label
        )
        if orientation is None:
            errors.append(
                _("Unknown orientation “%(value)s”; use portrait or landscape.")
                % {"value": row.values["orientation"]}
            )
        size = self._word(row.values.get("size", ""), SIZE_WORDS, size_label)
        if size is None:
            errors.append(
                _("Unknown size “%(value)s”; use small or large.") % {"value": row.values["size"]}
            )
        duration: int | None = 0
        if row.values.get("duration"):
            match = _DURATION.fullmatch(row.values["duration"].strip())
            duration = int(match.group(1)) if match else None
            if duration is None:
                errors.append(
                    _("“%(value)s” is not a number of seconds.") % {"value": row.values["duration"]}
                )
        if errors:
            return None, errors
        # Where the row is silent, use the form's choice, or the model's default if it differs.
        if not orientation:
            orientation = cleaned["orientation"]
            if orientation not in model.orientations and model.orientations:
                orientation = model.orientations[0]
        if not size:
            size = cleaned["size"]
            if size not in model.sizes:
                size = model.default_size or (model.sizes[0] if model.sizes else size)
        if not duration:
            duration = cleaned["duration"]
            if duration not in [int(d) for d in model.durations]:
                duration = int(model.default_duration or model.durations[0])
        item = services.BatchItem(
            row=row.row,
            prompt=row.prompt,
            video_model=model,
            orientation=orientation,
            size=size,
            duration=duration,
        )
        return item, []

    @staticmethod
    def _word(value: str, words: dict[str, set[str]], label) -> str | None:
        """ "" when the row says nothing, the token it means, or None when it is not understood."""
        if not value.strip():
            return ""
        wanted = _norm(value)
        for token, names in words.items():
            if wanted == token or wanted in names or wanted == _norm(str(label(token))):
                return token
        return None

    @property
    def max_rows(self) -> int:
        return BATCH_MAX_ROWS

    def line_count(self) -> int:
        return len(read_prompt_lines(self._current("prompts")))

    def estimated_total(self):
        cost = self.estimated_cost()
        count = self.line_count()
        if cost is None or not count:
            return None
        return cost * count


# --- Reviews, remixes, the gallery's filters ----------------------------------------------------------


class ReviewForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Comment (optional)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    decision = forms.ChoiceField(choices=ReviewDecision.choices)


class RemixForm(forms.Form):
    prompt = forms.CharField(
        label=gettext_lazy("What should change?"),
        max_length=PROMPT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": gettext_lazy("Describe the change you want.")},
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


# Dates a filter accepts: wide enough for any real video, narrow enough that a day's end
# (date + 1 day) and a time zone shift stay inside what Python and the databases can hold.
FILTER_DATE_MIN = date(2000, 1, 1)
FILTER_DATE_MAX = date(2999, 12, 31)


def validate_filter_date(value: date) -> None:
    if not FILTER_DATE_MIN <= value <= FILTER_DATE_MAX:
        raise ValidationError(
            _("Choose a date between %(min)s and %(max)s.")
            % {"min": FILTER_DATE_MIN.isoformat(), "max": FILTER_DATE_MAX.isoformat()}
        )


SORT_CHOICES = [
    ("newest", gettext_lazy("Newest first")),
    ("oldest", gettext_lazy("Oldest first")),
    ("longest", gettext_lazy("Longest first")),
]


class GalleryFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search prompts"), required=False, max_length=200)
    model = forms.TypedChoiceField(
        label=gettext_lazy("Model"), required=False, coerce=int, empty_value=None
    )
    author = forms.TypedChoiceField(
        label=gettext_lazy("Made by"), required=False, coerce=int, empty_value=None
    )
    review = forms.ChoiceField(label=gettext_lazy("Review"), required=False)
    orientation = forms.ChoiceField(label=gettext_lazy("Orientation"), required=False)
    date_from = forms.DateField(
        label=gettext_lazy("Finished from"),
        required=False,
        validators=[validate_filter_date],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("Finished until"),
        required=False,
        validators=[validate_filter_date],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    favourites = forms.BooleanField(label=gettext_lazy("Only my favourites"), required=False)
    sort = forms.ChoiceField(label=gettext_lazy("Sort"), required=False, choices=SORT_CHOICES)

    def __init__(self, *args, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", _("All models"))] + [
            (m.pk, m.display_name) for m in choices["models"]
        ]
        self.fields["author"].choices = [("", _("Everyone"))] + [
            (u.pk, u.get_username()) for u in choices["authors"]
        ]
        self.fields["review"].choices = [("", _("Any"))] + list(ReviewState.choices)
        self.fields["orientation"].choices = [("", _("Any"))] + [
            (token, label) for token, label in ORIENTATION_LABELS.items()
        ]
        # The search box filters as people type; every other control filters when it changes.
        for name, field in self.fields.items():
            if name != "q":
                field.widget.attrs["class"] = "filter-control"

    def filters(self) -> selectors.GalleryFilters:
        """The valid part of what was asked; a bad value is shown as an error and ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return selectors.GalleryFilters(
            q=(data.get("q") or "").strip(),
            model=data.get("model"),
            author=data.get("author"),
            review=data.get("review") or "",
            orientation=data.get("orientation") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            favourites=bool(data.get("favourites")),
            sort=data.get("sort") or "newest",
        )
