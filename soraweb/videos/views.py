from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language

from soraweb.videos import selectors, services, webhooks
from soraweb.videos.forms import (
    BatchForm,
    GalleryFilterForm,
    JobForm,
    RemixForm,
    ReviewForm,
    initial_from_job,
    new_idempotency_key,
)
from soraweb.videos.models import Provider, VideoJob
from soraweb.videos.ranged import ranged_file_response


def _job_or_404(pk: int) -> VideoJob:
    job = selectors.job_get(pk=pk)
    if job is None:
        raise Http404(_("No such job."))
    return job


def _require_owner_or_staff(request: HttpRequest, job: VideoJob) -> None:
    if not job.is_managed_by(request.user):
        raise PermissionDenied(
            _("Only the person who made this job, or an administrator, can do that.")
        )


def _normalise_choices(form: JobForm, wanted: dict) -> None:
    """Keep what the person chose where the selected model allows it, else the model's default."""
    model = form.selected_model
    if model is None:
        return
    if wanted.get("orientation") not in model.orientations:
        form.initial["orientation"] = model.orientations[0] if model.orientations else ""
    if wanted.get("size") not in model.sizes:
        form.initial["size"] = model.default_size or (model.sizes[0] if model.sizes else "")
    if str(wanted.get("duration")) not in [str(d) for d in model.durations]:
        form.initial["duration"] = model.default_duration or (
            model.durations[0] if model.durations else ""
        )


def _jobs_panel(request: HttpRequest) -> dict:
    return {"jobs": selectors.jobs_for_owner(owner=request.user)}


def _form_from_job(request: HttpRequest) -> JobForm:
    """A fresh create form, or one filled in from an earlier job (``?from=<job id>``)."""
    source = request.GET.get("from", "")
    job = selectors.job_get(pk=int(source)) if source.isdigit() else None
    if job is None:
        return JobForm()
    initial = initial_from_job(job, images=selectors.job_images(job=job))
    form = JobForm(initial=initial)
    _normalise_choices(form, initial)
    form.source_job = job
    return form


@require_http_methods(["GET", "POST"])
def studio(request: HttpRequest) -> HttpResponse:
    """The create page: the form, the person's recent prompts, and their jobs."""
    if request.method == "GET":
        form = _form_from_job(request)
        if request.htmx and request.htmx.target == "create-form":
            return render(request, "videos/_create_form.html", {"form": form})
        return render(request, "videos/studio.html", _studio_context(request, form))

    form = JobForm(request.POST, request.FILES)
    job = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            images = [
                services.reference_image_store(
                    uploaded_by=request.user,
                    name=img.name,
                    content_type=img.content_type,
                    data=img.data,
                    width=img.width,
                    height=img.height,
                )
                for img in form.validated_images
            ] or form.kept_images
            job = services.job_create(
                owner=request.user,
                video_model=data["video_model"],
                prompt_text=data["prompt"],
                orientation=data["orientation"],
                size=data["size"],
                duration=data["duration"],
                images=images,
                idempotency_key=data.get("idempotency_key") or None,
                image_fit=data["image_fit"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    if job is None:
        if request.htmx:
            return render(request, "videos/_create_form.html", {"form": form})
        return render(request, "videos/studio.html", _studio_context(request, form), status=400)

    if request.htmx:
        fresh = JobForm(
            initial={
                "video_model": data["video_model"].pk,
                "orientation": data["orientation"],
                "size": data["size"],
                "duration": data["duration"],
                "image_fit": data["image_fit"],
            }
        )
        return render(
            request,
            "videos/_create_done.html",
            {"form": fresh, "job": job, "history": selectors.prompt_history(owner=request.user)},
        )
    messages.success(request, _("Your video is on its way. It appears under “My jobs”."))
    return redirect("videos:studio")


def _studio_context(request: HttpRequest, form: JobForm) -> dict:
    return {
        "form": form,
        "history": selectors.prompt_history(owner=request.user),
        **_jobs_panel(request),
    }


@require_http_methods(["GET", "POST"])
def batch(request: HttpRequest) -> HttpResponse:
    """Many videos at once: prompts one per line, or a CSV file, with a report per row."""
    if request.method == "GET":
        return render(request, "videos/batch.html", {"form": BatchForm(), **_jobs_panel(request)})
    form = BatchForm(request.POST, request.FILES)
    outcomes = None
    if form.is_valid():
        created = services.jobs_create_batch(
            owner=request.user,
            items=form.items,
            idempotency_key=form.cleaned_data.get("idempotency_key") or None,
        )
        outcomes = sorted([*created, *form.rejected], key=lambda o: o.row)
    report = None
    if outcomes is not None:
        report = {
            "rows": outcomes,
            "created": [o for o in outcomes if o.created],
            "rejected": [o for o in outcomes if not o.created],
            "ignored_columns": form.ignored_columns,
        }
        initial = {key: form.cleaned_data[key] for key in ("orientation", "size", "duration")} | {
            "video_model": form.cleaned_data["video_model"].pk
        }
        form = BatchForm(initial=initial)
    context = {"form": form, "report": report}
    if request.htmx:
        return render(request, "videos/_batch_done.html", context)
    status = 200 if report is not None else 400
    return render(request, "videos/batch.html", {**context, **_jobs_panel(request)}, status=status)


def _form_from_query(request: HttpRequest, keys: tuple[str, ...]) -> JobForm | BatchForm:
    """An unbound create or batch form holding what the page currently shows (HTMX GETs)."""
    wanted = {key: request.GET.get(key) for key in keys if request.GET.get(key)}
    form_class = BatchForm if request.GET.get("kind") == "batch" else JobForm
    form = form_class(initial=wanted)
    _normalise_choices(form, wanted)
    return form


@require_GET
def form_options(request: HttpRequest) -> HttpResponse:
    """The model-dependent part of a form, re-rendered when the model changes."""
    form = _form_from_query(
        request, ("video_model", "orientation", "size", "duration", "image_fit")
    )
    return render(request, "videos/_model_options.html", {"form": form, "options_oob": True})


@require_GET
def estimate(request: HttpRequest) -> HttpResponse:
    """The cost (and for a batch, the number of videos) of what the form says right now."""
    form = _form_from_query(request, ("video_model", "orientation", "size", "duration", "prompts"))
    return render(request, "videos/_estimate.html", {"form": form})


@require_GET
def job_card(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    if job.is_active and request.htmx:
        services.job_request_refresh(job=job)
    on_detail = request.GET.get("on") == "detail"
    response = render(request, "videos/_job_card.html", {"job": job, "on_detail": on_detail})
    if on_detail and request.htmx and not job.is_active:
        response["HX-Refresh"] = "true"  # the page shows the video and review once it is ready
    return response


def _detail_context(request: HttpRequest, job: VideoJob, **extra) -> dict:
    can_remix = job.state == "succeeded" and bool(job.remote_id)
    return {
        "job": job,
        "events": list(job.events.all()),
        "images": selectors.job_images(job=job),
        "retry_key": new_idempotency_key(),
        "can_manage": job.is_managed_by(request.user),
        "is_favourite": selectors.job_is_favourite(job=job, user=request.user),
        "provider_can_remix": can_remix and selectors.provider_can_remix(job.provider),
        "remix_form": extra.pop("remix_form", None)
        or RemixForm(initial={"idempotency_key": new_idempotency_key()}),
        **_review_context(job, extra.pop("review_form", None)),
        **extra,
    }


def _review_context(job: VideoJob, form: ReviewForm | None = None) -> dict:
    return {
        "reviews": selectors.job_reviews(job=job),
        "latest_decision": selectors.job_latest_decision(job=job),
        "review_form": form or ReviewForm(),
    }


@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from soraweb.ops import services as ops_services
    from soraweb.ops.models import Notice

    job = _job_or_404(pk)
    # Opening the job a notice is about is reading that notice: the bell stops counting it.
    unread = Notice.objects.filter(user=request.user, job=job, read_at__isnull=True)
    ops_services.notices_mark_read(user=request.user, ids=list(unread.values_list("pk", flat=True)))
    return render(request, "videos/job_detail.html", _detail_context(request, job))


@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    _require_owner_or_staff(request, job)
    if not services.job_cancel(job=job, by=request.user):
        messages.error(request, _("This job has already finished, so it cannot be cancelled."))
    job = _job_or_404(pk)
    if request.htmx:
        return render(request, "videos/_job_card.html", {"job": job})
    return redirect("videos:job_detail", pk=pk)


@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    _require_owner_or_staff(request, job)
    try:
        new_job = services.job_retry(
            job=job, by=request.user, idempotency_key=request.POST.get("idempotency_key") or None
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("videos:job_detail", pk=pk)
    if request.htmx:
        return render(request, "videos/_job_inserted.html", {"job": new_job})
    messages.success(request, _("A new job was started from this one."))
    return redirect("videos:job_detail", pk=new_job.pk)


@require_http_methods(["GET", "POST"])
def job_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks "are you sure?" (the page people without JavaScript see); POST deletes."""
    job = _job_or_404(pk)
    _require_owner_or_staff(request, job)
    if request.method == "GET":
        return render(request, "videos/job_delete.html", {"job": job})
    try:
        services.job_delete(job=job, by=request.user)
    except ValidationError as exc:
        if request.htmx:
            return HttpResponse(" ".join(exc.messages), status=409)
        messages.error(request, " ".join(exc.messages))
        return redirect("videos:job_detail", pk=pk)
    if request.htmx and request.htmx.target == f"job-{pk}":
        return HttpResponse("")  # the card is swapped for nothing
    messages.success(request, _("The video was deleted."))
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("videos:studio")
        return response
    return redirect("videos:studio")


@require_POST
def job_review(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    form = ReviewForm(request.POST)
    saved = False
    if form.is_valid():
        try:
            services.job_review(
                job=job,
                reviewer=request.user,
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form, saved = ReviewForm(), True
            if not request.htmx:
                messages.success(request, _("Your review was saved."))
                return redirect(reverse("videos:job_detail", args=[pk]) + "#review")
    if request.htmx:
        job.refresh_from_db(fields=["review_state", "reviewed_at"])
        return render(
            request,
            "videos/_review_panel.html",
            {"job": job, "review_saved": saved, **_review_context(job, form)},
        )
    return render(
        request,
        "videos/job_detail.html",
        _detail_context(request, job, review_form=form),
        status=400,
    )


@require_POST
def job_favourite(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    on = services.job_favourite_set(job=job, user=request.user, on=request.POST.get("on") == "1")
    if request.htmx:
        return render(request, "videos/_favourite_button.html", {"job": job, "is_favourite": on})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("videos:job_detail", args=[pk])
    return redirect(back)


@require_POST
def job_remix(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    form = RemixForm(request.POST)
    if form.is_valid():
        try:
            new_job = services.job_remix(
                job=job,
                by=request.user,
                prompt_text=form.cleaned_data["prompt"],
                idempotency_key=form.cleaned_data.get("idempotency_key") or None,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error("prompt" if field in ("prompt", "__all__") else None, errors)
        else:
            messages.success(request, _("Your remix is on its way. It appears under “My jobs”."))
            return redirect(reverse("videos:studio") + f"#job-{new_job.pk}")
    return render(
        request,
        "videos/job_detail.html",
        _detail_context(request, job, remix_form=form),
        status=400,
    )


@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    try:
        page = max(1, min(10_000, int(request.GET.get("page", "1"))))
    except ValueError:
        page = 1
    filter_form = GalleryFilterForm(request.GET or None, choices=selectors.gallery_choices())
    filters = filter_form.filters()
    jobs, has_next = selectors.gallery_list(viewer=request.user, filters=filters, page=page)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "jobs": jobs,
        "page": page,
        "has_next": has_next,
        "filter_form": filter_form,
        "filters": filters,
        "query": query.urlencode(),
    }
    template = "videos/gallery.html"
    if request.htmx and not request.htmx.history_restore_request:
        template = {
            "load-more": "videos/_gallery_page.html",
            "gallery-results": "videos/_gallery_results.html",
        }.get(request.htmx.target, template)
    response = render(request, template, context)
    # The same address answers a whole page or a part of it: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _download_name(job: VideoJob, extension: str) -> str:
    """A name a person can find again in their downloads: date, the prompt's first words, model."""
    from django.utils.text import slugify

    words = slugify(" ".join(job.prompt.text.split()[:6]), allow_unicode=True)
    parts = [f"{job.created_at:%Y-%m-%d}", words[:48].strip("-"), slugify(job.model_name)]
    return "-".join(part for part in parts if part) + extension


@require_GET
def job_video(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    if not job.video:
        raise Http404(_("This job has no saved video."))
    download = request.GET.get("download") == "1"
    return ranged_file_response(
        request,
        job.video,
        content_type="video/mp4",
        filename=_download_name(job, ".mp4"),
        attachment=download,
    )


@require_GET
def job_poster(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    if not job.poster:
        raise Http404(_("This job has no poster."))
    download = request.GET.get("download") == "1"
    return ranged_file_response(
        request,
        job.poster,
        content_type="image/jpeg",
        filename=_download_name(job, ".jpg"),
        attachment=download,
    )


@require_GET
def reference_image(request: HttpRequest, pk: int) -> HttpResponse:
    """A reference picture (the whole team sees every job, so every picture used in one)."""
    image = selectors.reference_image_get(pk=pk)
    if image is None:
        raise Http404(_("No such picture."))
    return ranged_file_response(request, image.file, content_type=image.content_type)


# Choosing a language must work on the sign-in page too.
set_language = login_not_required(require_POST(django_set_language))


@csrf_exempt  # authenticated by its signature instead; a provider has no session or CSRF token
@login_not_required
@require_POST
def provider_webhook(request: HttpRequest, provider_id: int) -> HttpResponse:
    provider = Provider.objects.filter(pk=provider_id, enabled=True).first()
    secret = provider.webhook_secret_value if provider else ""
    if not secret:
        return JsonResponse({"error": "webhooks are not enabled for this provider"}, status=404)
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    if length > webhooks.MAX_BODY_BYTES:
        return JsonResponse({"error": "body too large"}, status=413)
    body = request.body
    try:
        msg_id = webhooks.verify(secret, request.headers, body)
        event = json.loads(body)
        event_type = str(event.get("type", ""))
        remote_id = str((event.get("data") or {}).get("id", ""))
    except webhooks.WebhookError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except (ValueError, AttributeError):
        return JsonResponse({"error": "body is not a webhook event"}, status=400)
    result = services.webhook_receive(
        provider=provider, webhook_id=msg_id, event_type=event_type, remote_id=remote_id
    )
    return JsonResponse({"status": result})
