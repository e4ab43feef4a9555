from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from soraweb.videos import selectors, services, webhooks
from soraweb.videos.forms import JobForm, new_idempotency_key
from soraweb.videos.models import Provider, VideoJob
from soraweb.videos.ranged import ranged_file_response


def _job_or_404(pk: int) -> VideoJob:
    job = selectors.job_get(pk=pk)
    if job is None:
        raise Http404(_("No such job."))
    return job


def _require_owner_or_staff(request: HttpRequest, job: VideoJob) -> None:
    if not (request.user.is_staff or job.owner_id == request.user.pk):
        raise PermissionDenied(
            _("Only the person who made this job, or an administrator, can do that.")
        )


def _studio_context(request: HttpRequest, form: JobForm) -> dict:
    return {"form": form, "jobs": selectors.jobs_for_owner(owner=request.user)}


@require_http_methods(["GET", "POST"])
def studio(request: HttpRequest) -> HttpResponse:
    """The create page: the form, and under it the person's own jobs."""
    if request.method == "GET":
        return render(request, "videos/studio.html", _studio_context(request, JobForm()))

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
            ]
            job = services.job_create(
                owner=request.user,
                video_model=data["video_model"],
                prompt_text=data["prompt"],
                orientation=data["orientation"],
                size=data["size"],
                duration=data["duration"],
                images=images,
                idempotency_key=data.get("idempotency_key") or None,
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
            }
        )
        return render(request, "videos/_create_done.html", {"form": fresh, "job": job})
    messages.success(request, _("Your video is on its way. It appears under “My jobs”."))
    return redirect("videos:studio")


@require_GET
def form_options(request: HttpRequest) -> HttpResponse:
    """The model-dependent part of the form, re-rendered when the model changes."""
    initial = {
        key: request.GET.get(key)
        for key in ("video_model", "orientation", "size", "duration")
        if request.GET.get(key)
    }
    form = JobForm(initial=initial)
    model = form.selected_model
    if model is not None:
        # Keep what the person chose where the new model allows it.
        if initial.get("orientation") not in model.orientations:
            form.initial["orientation"] = model.orientations[0] if model.orientations else ""
        if initial.get("size") not in model.sizes:
            form.initial["size"] = model.default_size or (model.sizes[0] if model.sizes else "")
        if str(initial.get("duration")) not in [str(d) for d in model.durations]:
            form.initial["duration"] = model.default_duration or (
                model.durations[0] if model.durations else ""
            )
    return render(request, "videos/_model_options.html", {"form": form})


@require_GET
def job_card(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    if job.is_active and request.htmx:
        services.job_request_refresh(job=job)
    return render(request, "videos/_job_card.html", {"job": job})


@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    return render(
        request,
        "videos/job_detail.html",
        {"job": job, "events": list(job.events.all()), "retry_key": new_idempotency_key()},
    )


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
        return render(
            request, "videos/_job_card.html", {"job": new_job, "oob_prepend": True, "original": job}
        )
    messages.success(request, _("A new job was started from this one."))
    return redirect("videos:job_detail", pk=new_job.pk)


@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    jobs, has_next = selectors.gallery_list(page=page)
    context = {"jobs": jobs, "page": page, "has_next": has_next}
    if request.htmx and page > 1:
        return render(request, "videos/_gallery_page.html", context)
    return render(request, "videos/gallery.html", context)


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
        filename=f"soraweb-{job.pk}.mp4",
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
        filename=f"soraweb-{job.pk}.jpg",
        attachment=download,
    )


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
