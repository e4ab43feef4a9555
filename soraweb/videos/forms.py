from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from soraweb.catalogue import pricing as catalogue_pricing
from soraweb.catalogue import rules as catalogue_rules
from soraweb.catalogue import wire as catalogue_wire
from soraweb.catalogue.legacy import ORIENTATION_RATIO, params_from_legacy, resolution_token
from soraweb.catalogue.schema import Param, SpecError
from soraweb.videos import params as catalogue_params
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


DEFAULT_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
_TYPE_NAMES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP"}


@dataclass
class SlotInput:
    """One picture input of the create form: a slot the model declares (first frame, last
    frame), or one place of a slot that takes several (reference image 2)."""

    name: str  # the form field: slot_first_frame, slot_reference_images_2
    param: str  # the catalogue's slot: first_frame, reference_images
    index: int  # 1-based place in the slot
    label: str
    max_bytes: int
    content_types: tuple[str, ...]
    kept: ReferenceImage | None = None  # a picture carried over from an earlier job
    blocked: str = ""  # why the catalogue forbids filling it with the settings as they are
    needs: str = ""  # what it needs alongside (a last frame needs a first frame)

    @property
    def keep_name(self) -> str:
        return f"keep_{self.name}"

    @property
    def accept(self) -> str:
        return ",".join(self.content_types)

    @property
    def type_names(self) -> str:
        return "/".join(_TYPE_NAMES.get(t, t) for t in self.content_types)


def slot_input_names(spec) -> list[tuple[str, Param, int]]:
    """(field name, slot, place) for each picture input a model's slots make, first frame first."""
    if spec is None:
        return []
    order = {name: i for i, name in enumerate(catalogue_params.SLOT_ORDER)}
    slots = sorted(
        (s for s in spec.slots() if s.kind == "image"),
        key=lambda s: order.get(s.name, len(order)),
    )
    out = []
    for slot in slots:
        for index in range(1, slot.max_count + 1):
            name = f"slot_{slot.name}" if slot.max_count == 1 else f"slot_{slot.name}_{index}"
            out.append((name, slot, index))
    return out


class JobForm(forms.Form):
    # The earlier job this form was filled in from (``?from=``), named above the form.
    source_job: VideoJob | None = None
    takes_pictures = True  # one file input per picture slot of the chosen model

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
    # The settings fields (aspect_ratio, resolution, duration, audio, ...) are added per model
    # from its catalogue entry in __init__; the catalogue checks them (see params.check_settings).
    # Pictures in one ordered list, filling the slots in order: what scripts and old pages send.
    # The page itself has one input per slot (slot_first_frame, ...; see _add_slot_inputs).
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
        if self.is_bound:
            self.data = _with_catalogue_names(self.data)
        self.initial = _with_catalogue_names(self.initial)
        models = list(
            VideoModel.objects.filter(enabled=True, provider__enabled=True).select_related(
                "provider"
            )
        )
        model_field = self.fields["video_model"]
        assert isinstance(model_field, forms.ModelChoiceField)
        model_field.queryset = VideoModel.objects.filter(pk__in=[m.pk for m in models])
        self.models = models
        self._specs: dict[int, object] = {}
        self.selected_model = self._selected_model(models)
        self.spec = self.spec_of(self.selected_model)
        self.cleaned_params: dict = {}
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
        # An unbound form filled from a job ("use these settings") offers that job's pictures;
        # one filled from an address (the model menu's redraw) only the viewer's.
        visible = self.is_bound or viewer is not None
        pool = images_visible_to(viewer) if visible else ReferenceImage.objects.all()
        self.offered_images: list[ReferenceImage] = (
            list(pool.filter(token__in=found).order_by("id")) if found else []
        )
        self.kept_images: list[ReferenceImage] = list(self.offered_images) if self.is_bound else []
        self.kept_images_missing = self.is_bound and len(self.offered_images) < len(tokens)
        self._add_slot_inputs(pool)

    def _add_slot_inputs(self, pool) -> None:
        """One file field per picture slot of the chosen model, each with its own limits, and
        the picture an earlier job put there, offered as a ticked "use the same" box."""
        self.slot_inputs: list[SlotInput] = []
        self.slot_pictures: dict[str, list] = {}
        names = slot_input_names(self.spec) if self.takes_pictures else []
        if not names:
            return
        lang = get_language()
        if self.is_bound and hasattr(self.data, "get"):
            wanted = {name: self.data.get(f"keep_{name}") for name, _s, _i in names}
        else:
            wanted = dict(self.initial.get("keep_slots") or {})
            for name, _slot, _index in names:  # the model menu's redraw sends them back
                if self.initial.get(f"keep_{name}"):
                    wanted[name] = str(self.initial[f"keep_{name}"])
        # Old links and scripts name kept pictures in one ordered list: fill the slots in order.
        if not any(wanted.values()) and self.offered_images:
            wanted = {}
            for (name, _slot, _index), image in zip(names, self.offered_images, strict=False):
                wanted[name] = str(image.token)
            self.offered_images, self.kept_images = [], []
        tokens = {name: parse_token(v) for name, v in wanted.items() if v}
        found = {t for t in tokens.values() if t is not None}
        by_token = {img.token: img for img in pool.filter(token__in=found)} if found else {}
        if self.is_bound and len(by_token) < len(tokens):
            self.kept_images_missing = True
        states = catalogue_rules.slot_states(self.spec, self.current_values())
        for name, slot, index in names:
            label = slot.label.get(lang)
            if slot.max_count > 1:
                label = _("%(slot)s %(n)d") % {"slot": label, "n": index}
            limit = settings.SORAWEB_MAX_IMAGE_BYTES
            if slot.max_bytes:
                limit = min(limit, slot.max_bytes)
            types = tuple(t for t in slot.content_types if t in DEFAULT_IMAGE_TYPES)
            blocked = states.get(slot.name)
            needs = [
                r.message.get(lang)
                for r in self.spec.rules
                if any(c.param == slot.name and c.presence == "set" for c in r.when)
                and r.then
                and all(c.presence == "set" and c.param != slot.name for c in r.then)
            ]
            token = tokens.get(name)
            self.slot_inputs.append(
                SlotInput(
                    name=name,
                    param=slot.name,
                    index=index,
                    label=label,
                    max_bytes=limit,
                    content_types=types or DEFAULT_IMAGE_TYPES,
                    kept=by_token.get(token) if token else None,
                    blocked=blocked.message.get(lang) if blocked else "",
                    needs=" ".join(needs),
                )
            )
            self.fields[name] = forms.FileField(label=label, required=False, allow_empty_file=True)

    @property
    def slot_rows(self) -> list[dict]:
        """The slot inputs as the template shows them, each with its own errors."""
        return [{"slot": s, "errors": self.errors.get(s.name, [])} for s in self.slot_inputs]

    @property
    def slot_rules_json(self) -> str:
        """The rules between picture slots (a last frame needs a first one; references not
        with a first frame), for the page to disable a slot as soon as another is filled."""
        import json

        spec = self.spec
        if spec is None:
            return "[]"
        slots = {s.name for s in spec.slots()}
        lang = get_language()
        out = []
        for rule in spec.rules:
            conditions = rule.when + rule.then
            if conditions and all(c.param in slots and c.presence for c in conditions):
                out.append(
                    {
                        "when": [[c.param, c.presence] for c in rule.when],
                        "then": [[c.param, c.presence] for c in rule.then],
                        "message": rule.message.get(lang),
                    }
                )
        return json.dumps(out, ensure_ascii=False)

    def slot_states_json(self) -> str:
        """Which slots the settings as they stand forbid, and why (refreshed with the price)."""
        import json

        spec = self.spec
        if spec is None:
            return "{}"
        lang = get_language()
        states = catalogue_rules.slot_states(spec, self.current_values())
        return json.dumps(
            {k: r.message.get(lang) for k, r in states.items() if r is not None},
            ensure_ascii=False,
        )

    def spec_of(self, model: VideoModel | None):
        """The model as its provider's format sells it (cached per form)."""
        if model is None:
            return None
        if model.pk not in self._specs:
            self._specs[model.pk] = model.sold_spec()
        return self._specs[model.pk]

    def _selected_model(self, models: list[VideoModel]) -> VideoModel | None:
        wanted = self.data.get("video_model") if self.is_bound else self.initial.get("video_model")
        for model in models:
            if str(model.pk) == str(getattr(wanted, "pk", wanted)):
                return model
        return models[0] if models else None

    def _apply_rules(self, model: VideoModel | None) -> None:
        spec = self.spec
        if "images" in self.fields:
            self.fields["images"].disabled = self.image_capacity == 0
        if model is None or spec is None:
            return
        for param in spec.settings():
            # Text in, catalogue check out: the check's own words beat "Select a valid choice".
            self.fields[param.name] = forms.CharField(
                label=param.label.get(get_language()), required=False, max_length=32000
            )
        if not self.is_bound:
            self.initial["video_model"] = model.pk
            for param in spec.settings():
                if param.has_default:
                    self.initial.setdefault(param.name, _as_text(param.default))

    def normalise_initial(self) -> None:
        """Drop initial settings the selected model does not take, so its defaults show."""
        spec = self.spec
        if spec is None or self.is_bound:
            return
        for param in spec.settings():
            value = self.initial.get(param.name)
            if value in (None, ""):
                continue
            if catalogue_rules.resolve(spec, {param.name: value}).problems:
                self.initial[param.name] = _as_text(param.default) if param.has_default else ""

    @property
    def image_capacity(self) -> int:
        spec = self.spec
        if spec is None:
            return 0
        return sum(s.max_count for s in spec.slots() if s.kind == "image")

    def _picked(self) -> dict:
        """What the person picked for each setting, as sent (empty means "not set")."""
        spec = self.spec
        if spec is None:
            return {}
        out = {}
        for param in spec.settings():
            value = self._current(param.name)
            if value != "":
                out[param.name] = value
        return out

    def current_values(self) -> dict:
        """The settings as they stand, each bad one replaced by its default: for menus, price
        and frame while the person is still choosing."""
        spec = self.spec
        if spec is None:
            return {}
        picked = self._picked()
        for param in spec.settings():
            if param.name in picked:
                alone = catalogue_rules.resolve(spec, {param.name: picked[param.name]})
                if any(p.param == param.name for p in alone.problems):
                    del picked[param.name]
        return catalogue_rules.resolve(spec, picked, strict=False).values

    def clean_images(self):
        files = self.cleaned_data.get("images") or []
        model = self.selected_model
        if files and model is not None and len(files) > self.image_capacity:
            if self.image_capacity == 0:
                raise ValidationError(
                    _("%(model)s does not take reference images.") % {"model": model.display_name}
                )
            raise ValidationError(
                _("%(model)s takes at most %(n)d reference image(s).")
                % {"model": model.display_name, "n": self.image_capacity}
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

    def _clean_slots(self) -> dict[str, list] | None:
        """Each slot's picture: a new upload (checked against the slot's own limits, errors
        next to it) or the one carried over. None when the form has no slot inputs."""
        if not self.slot_inputs:
            return None
        pictures: dict[str, list] = {}
        for slot in self.slot_inputs:
            upload = self.cleaned_data.get(slot.name)
            if upload:
                try:
                    picture = validate_image(upload)
                except ValidationError as exc:
                    self.add_error(slot.name, exc.messages)
                    continue
                if picture.content_type not in slot.content_types:
                    self.add_error(
                        slot.name,
                        _("%(slot)s takes %(types)s pictures.")
                        % {"slot": slot.label, "types": slot.type_names},
                    )
                    continue
                if len(picture.data) > slot.max_bytes or (upload.size or 0) > slot.max_bytes:
                    self.add_error(
                        slot.name,
                        _("“%(name)s” is %(size)s; %(slot)s can be at most %(limit)s.")
                        % {
                            "name": picture.name,
                            "size": filesizeformat(upload.size),
                            "slot": slot.label,
                            "limit": filesizeformat(slot.max_bytes),
                        },
                    )
                    continue
                pictures.setdefault(slot.param, []).append(picture)
            elif slot.kept is not None:
                pictures.setdefault(slot.param, []).append(slot.kept)
        return pictures

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean() returns, typed
        slot_pictures = self._clean_slots()
        if slot_pictures is not None and not self.validated_images and not self.kept_images:
            return self._clean_with_slots(cleaned, slot_pictures)
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
        if model is not None and len(self.kept_images) > self.image_capacity:
            self.kept_images = self.kept_images[: self.image_capacity]
        if model is None or "video_model" in self.errors or self.errors.get("images"):
            return cleaned
        count = len(self.validated_images) or len(self.kept_images)
        try:
            checked = services.job_validate_settings(
                video_model=model, params=self._picked(), images=[None] * count
            )
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
            return cleaned
        slots = {p.name for p in checked.spec.slots()}
        self.cleaned_params = {k: v for k, v in checked.values.items() if k not in slots}
        # The old names, for code that lists jobs by them.
        cleaned.update(checked.summary())
        return cleaned

    def _clean_with_slots(self, cleaned: dict, pictures: dict[str, list]) -> dict:
        """The settings and the pictures slot by slot, checked by the service; a slot's
        problem ("a last frame needs a first frame") is shown next to that slot's input."""
        if self.kept_images_missing:
            self.add_error(
                None,
                _(
                    "A picture you chose to use again is not available any more (or is not yours "
                    "to use). Choose the picture file again."
                ),
            )
        model = self.selected_model
        if model is None or "video_model" in self.errors:
            return cleaned
        if any(s.name in self.errors for s in self.slot_inputs):
            return cleaned
        try:
            checked = services.job_validate_settings(
                video_model=model,
                params=self._picked(),
                slots={k: [None] * len(v) for k, v in pictures.items()},
                slot_errors=True,
            )
        except ValidationError as exc:
            first_input: dict[str, str] = {}
            for slot in self.slot_inputs:
                first_input.setdefault(slot.param, slot.name)
            for name, messages in exc.message_dict.items():
                field = first_input.get(name, name)
                self.add_error(field if field in self.fields else None, messages)
            return cleaned
        self.slot_pictures = pictures
        slots = {p.name for p in checked.spec.slots()}
        self.cleaned_params = {k: v for k, v in checked.values.items() if k not in slots}
        cleaned.update(checked.summary())
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

    def option_menus(self) -> list[dict]:
        """Each setting with every value some model offers: values this model lacks, and values
        a rule forbids with the rest as picked, are disabled and say why ("4K needs 8
        seconds"), so a person sees what exists and what to change to get it."""
        model, spec = self.selected_model, self.spec
        if model is None or spec is None:
            return []
        name = model.display_name
        current = self.current_values()
        states = catalogue_rules.option_states(spec, current)
        others = [self.spec_of(m) for m in self.models]
        menus = []
        for param in spec.settings():
            allowed = param.allowed()
            value = self._current(param.name)
            if allowed is None:
                kind = "number" if param.type == "int" else "text"
                menus.append(
                    {
                        "field": self[param.name],
                        "kind": kind,
                        "options": [],
                        "note": "",
                        "value": value,
                        "min": param.min,
                        "max": param.max,
                        "maxlength": param.max_length,
                    }
                )
                continue
            universe = list(allowed)
            labels = {v: catalogue_params.value_label(param, v) for v in allowed}
            for other in others:
                theirs = other.param(param.name) if other else None
                if theirs is None or theirs.type != param.type:
                    continue
                for v in theirs.allowed() or ():
                    if v not in universe:
                        universe.append(v)
                        labels[v] = catalogue_params.value_label(theirs, v)
            if param.type == "int":
                universe.sort()
            options = []
            if not param.has_default:
                options.append({"value": "", "label": _("Not set"), "disabled": False})
            reasons = []
            for v in universe:
                text = labels[v]
                rule = states.get(param.name, {}).get(v)
                disabled = v not in allowed or rule is not None
                if v not in allowed:
                    text = _("%(label)s (not with %(model)s)") % {"label": text, "model": name}
                elif rule is not None:
                    reason = rule.message.get(get_language())
                    text = _("%(label)s (%(reason)s)") % {"label": text, "reason": reason}
                    if reason not in reasons:
                        reasons.append(reason)
                options.append({"value": _as_text(v), "label": text, "disabled": disabled})
            note = " ".join(reasons)
            if len(allowed) < len(universe) and not note and param.name == "duration":
                note = _("%(model)s only makes videos of %(allowed)s seconds.") % {
                    "model": name,
                    "allowed": ", ".join(str(v) for v in allowed),
                }
            elif len(allowed) < len(universe) and not note:
                shown = ", ".join(labels[v] for v in allowed)
                note = _("%(model)s offers these for %(setting)s: %(allowed)s.") % {
                    "model": name,
                    "setting": param.label.get(get_language()),
                    "allowed": shown,
                }
            if value == "" and param.has_default:
                value = _as_text(param.default)
            menus.append(
                {
                    "field": self[param.name],
                    "kind": "select",
                    "options": options,
                    "note": note,
                    "value": value,
                }
            )
        return menus

    @property
    def fit_hint(self) -> str:
        """What the fit choice does, never at odds with the choices offered: "Send unchanged"
        is offered only where the provider takes a picture of any size."""
        model = self.selected_model
        if model is not None and self.needs_exact_image:
            return _(
                "%(model)s’s provider refuses a picture whose size differs from the video’s, so "
                "soraweb sends a copy fitted to the video frame. Your original is kept."
            ) % {"model": model.display_name}
        return _(
            "Crop or bars send a copy fitted to the video frame; “Send unchanged” sends your "
            "picture as it is. Your original is kept."
        )

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
        """The video's pixel size for these settings: what the wire body asks for, else what
        the aspect ratio and resolution make."""
        model, spec = self.selected_model, self.spec
        if model is None or spec is None:
            return None
        values = self.current_values()
        fmt = model.provider.config().wire_format.value
        try:
            body = catalogue_wire.build(spec, fmt, values, prompt="").body
        except catalogue_wire.WireError:
            body = {}
        return catalogue_params.frame_of(body, values)

    def estimated_cost(self):
        spec = self.spec
        if self.selected_model is None or spec is None:
            return None
        return catalogue_pricing.estimate(spec, self.current_values())


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _with_catalogue_names(data):
    """Old field names (orientation portrait / landscape, size small / large) as the catalogue's
    aspect_ratio and resolution, so old links, bookmarks and scripts keep working."""
    if not data or ("orientation" not in data and "size" not in data):
        return data
    data = data.copy()
    orientation, size = data.get("orientation"), data.get("size")
    if orientation and not data.get("aspect_ratio"):
        data["aspect_ratio"] = ORIENTATION_RATIO.get(orientation, orientation)
    if size and not data.get("resolution"):
        data["resolution"] = resolution_token(size)
    return data


def initial_from_job(job: VideoJob, *, images: Sequence[ReferenceImage] = ()) -> dict:
    """The create form filled in with an earlier job's prompt and settings ("Use again")."""
    stored = dict(job.params or {}) or params_from_legacy(
        orientation=job.orientation, size=job.size, duration=job.duration
    )
    settings = {
        k: _as_text(v) for k, v in stored.items() if not isinstance(v, list)
    }  # slots hold picture ids, offered through keep_images
    return {
        "prompt": job.prompt.text,
        "video_model": job.video_model_id,
        **settings,
        "image_fit": job.image_fit or ImageFit.CROP,
        "keep_images": [str(image.token) for image in images],
        "keep_slots": _kept_slots(job, stored, images),
    }


def _kept_slots(job: VideoJob, stored: dict, images: Sequence[ReferenceImage]) -> dict[str, str]:
    """Each slot input's picture from an earlier job (its token), by the slots the job kept."""
    try:
        spec = job.video_model.sold_spec()
    except SpecError:  # a catalogue entry that no longer reads: offer the pictures in order
        spec = None
    names = slot_input_names(spec)
    if not names:
        return {}
    by_pk = {image.pk: image for image in images}
    out: dict[str, str] = {}
    slot_ids = {k: v for k, v in stored.items() if isinstance(v, list) and spec.param(k)}
    if slot_ids:
        for name, slot, index in names:
            ids = slot_ids.get(slot.name) or []
            if index <= len(ids) and ids[index - 1] in by_pk:
                out[name] = str(by_pk[ids[index - 1]].token)
        return out
    for (name, _slot, _index), image in zip(names, images, strict=False):  # an older job
        out[name] = str(image.token)
    return out


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


def _choice_by_label(param, raw: str) -> str:
    """A CSV cell naming a choice by its label, in either language, as the choice's value."""
    for choice in param.choices:
        if _norm(raw) in (_norm(choice.value), _norm(choice.label.en), _norm(choice.label.zh)):
            return choice.value
    return raw


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


def read_csv_rows(
    data: bytes, *, extra_columns: dict[str, str] | None = None
) -> tuple[list[BatchRow], list[str]]:
    """Rows of a CSV (with or without a header line) and the names of columns it ignored.

    ``extra_columns`` maps more header names (normalised) to setting names: a column per
    catalogue parameter, by its name or its English or Chinese label."""
    extra_columns = extra_columns or {}
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
            name = name or extra_columns.get(cell)
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


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


class BatchForm(JobForm):
    """Many jobs at once: prompts one per line, or a CSV with optional per-row settings. The
    model, orientation, size and duration chosen here apply wherever a row does not say."""

    # None removes an inherited field (Django's documented way), which mypy reads as a new type.
    takes_pictures = False
    prompt = None  # type: ignore[assignment]
    images = None  # type: ignore[assignment]
    image_fit = None  # type: ignore[assignment]
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

    field_order = ["prompts", "csv_file", "video_model"]

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
            rows, self.ignored_columns = read_csv_rows(
                upload.read(BATCH_MAX_CSV_BYTES + 1), extra_columns=self._param_columns()
            )
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
        spec = self.spec_of(model)
        if spec is None:
            return None, [
                _("%(model)s is not sold in this provider’s wire format.")
                % {"model": model.display_name}
            ]
        # Where the row is silent, use the form's choice where this model offers it, else the
        # model's default.
        picked = {}
        for name, value in self.cleaned_params.items():
            param = spec.param(name)
            if param is not None and not catalogue_rules.resolve(spec, {name: value}).problems:
                picked[name] = value
        if orientation:
            picked["aspect_ratio"] = ORIENTATION_RATIO[orientation]
        if size:
            picked["resolution"] = resolution_token(size)
        if duration:
            picked["duration"] = duration
        for param in spec.settings():
            raw = row.values.get(param.name, "").strip()
            if raw:
                picked[param.name] = _choice_by_label(param, raw)
        item = services.BatchItem(row=row.row, prompt=row.prompt, video_model=model, params=picked)
        return item, []

    def _param_columns(self) -> dict[str, str]:
        columns: dict[str, str] = {}
        for model in self.models:
            spec = self.spec_of(model)
            for param in spec.settings() if spec else ():
                for word in (param.name, param.label.en, param.label.zh):
                    columns.setdefault(_norm(word), param.name)
        return columns

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
    resolution = forms.ChoiceField(label=gettext_lazy("Resolution"), required=False)
    aspect_ratio = forms.ChoiceField(label=gettext_lazy("Aspect ratio"), required=False)
    audio = forms.ChoiceField(label=gettext_lazy("Sound"), required=False)
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
        _choice_field(self, "model").choices = [("", _("All models"))] + [
            (m.pk, m.display_name) for m in choices["models"]
        ]
        _choice_field(self, "author").choices = [("", _("Everyone"))] + [
            (u.pk, u.get_username()) for u in choices["authors"]
        ]
        _choice_field(self, "review").choices = [("", _("Any"))] + list(ReviewState.choices)
        _choice_field(self, "orientation").choices = [("", _("Any"))] + [
            (token, label) for token, label in ORIENTATION_LABELS.items()
        ]
        # Only values some finished video has, in the catalogue's words; a value asked for by
        # an old link stays offered, so the menu shows what the results are filtered by.
        lang = get_language()
        for name, key in (("resolution", "resolutions"), ("aspect_ratio", "aspect_ratios")):
            offered = [(f.value, f.label.get(lang)) for f in choices.get(key, [])]
            asked = self.data.get(name) if self.is_bound else None
            if asked and asked not in {v for v, _label in offered} and len(asked) <= 20:
                offered.append((asked, asked))
            _choice_field(self, name).choices = [("", _("Any"))] + offered
        sound = choices.get("audio_label")
        if sound is not None:
            self.fields["audio"].label = sound.get(lang)
        present = {"on" if value else "off" for value in choices.get("audio", [])}
        if self.is_bound and self.data.get("audio") in ("on", "off"):
            present.add(self.data["audio"])
        _choice_field(self, "audio").choices = [("", _("Any"))] + [
            (token, label)
            for token, label in (("on", _("With sound")), ("off", _("Silent")))
            if token in present
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
            resolution=data.get("resolution") or "",
            aspect_ratio=data.get("aspect_ratio") or "",
            audio={"on": True, "off": False}.get(data.get("audio") or ""),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            favourites=bool(data.get("favourites")),
            sort=data.get("sort") or "newest",
        )
