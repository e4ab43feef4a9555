from __future__ import annotations

import base64
import json
import logging
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import DatabaseError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language

from soraweb.http import AuthenticatedHttpRequest, HtmxHttpRequest
from soraweb.spreadsheet import csv_download, text_cell
from soraweb.videos import images, live, selectors, services, webhooks
from soraweb.videos.forms import (
    BatchForm,
    GalleryFilterForm,
    JobForm,
    RemixForm,
    ReviewForm,
    initial_from_job,
    new_idempotency_key,
)
from soraweb.videos.models import JobState, Provider, ReferenceImage, VideoJob
from soraweb.videos.params import settings_in_words as catalogue_settings_in_words
from soraweb.videos.pipeline import poll
from soraweb.videos.ranged import ranged_file_response

logger = logging.getLogger(__name__)


def _job_or_404(pk: int) -> VideoJob:
    job = selectors.job_get(pk=pk)
    if job is None:
        raise Http404(_("No such job."))
    return job


def _form_errors(exc: ValidationError) -> dict[str, list[str]]:
    """A service's refusal as field -> messages; one without fields belongs to the whole form."""
    return exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}


def _require_owner_or_staff(request: HttpRequest, job: VideoJob, action: str = "change") -> None:
    if not job.is_managed_by(request.user, action):
        raise PermissionDenied(
            _("Only the person who made this job, or an administrator, can do that.")
        )


def _normalise_choices(form: JobForm, wanted: dict) -> None:
    """Keep what the person chose where the selected model allows it, else the model's default."""
    form.normalise_initial()


def _queued_message() -> str:
    # The job is saved; only the hand-over to the worker failed, and the sweep retries it.
    return _("Saved and queued: it will start as soon as the worker is reachable.")


def _say_started(request: HttpRequest, job: VideoJob, text: str) -> None:
    if selectors.job_waiting_for_worker(job=job):
        messages.warning(request, _queued_message())
    else:
        messages.success(request, text)


def _jobs_panel(request: HttpRequest) -> dict:
    """The person's jobs, a page at a time: ``?jobs_after=<cursor>`` opens an older page."""
    page = selectors.jobs_page(owner=request.user, after=request.GET.get("jobs_after"))
    return {"jobs": page.rows, "jobs_page": page}


def _older_jobs(request: HtmxHttpRequest) -> HttpResponse | None:
    """The "Older jobs" link asked with htmx: only the next cards (and the link after them)."""
    if request.htmx and request.htmx.target == "jobs-more":
        response = render(request, "videos/_jobs_page.html", _jobs_panel(request))
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response
    return None


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
def studio(request: HtmxHttpRequest) -> HttpResponse:
    """The create page: the form, the person's recent prompts, and their jobs."""
    if request.method == "GET":
        if older := _older_jobs(request):
            return older
        form = _form_from_job(request)
        if request.htmx and request.htmx.target == "create-form":
            return render(request, "videos/_create_form.html", {"form": form})
        return render(request, "videos/studio.html", _studio_context(request, form))

    form = JobForm(request.POST, request.FILES, viewer=request.user)
    job = None
    if form.is_valid():
        data = form.cleaned_data
        earlier = selectors.job_for_idempotency_key(
            owner=request.user, key=data.get("idempotency_key") or None
        )
        if earlier is not None:
            return _create_replayed(request, earlier)
        try:
            pictures = [
                _store_picture(request, img) for img in form.validated_images
            ] or images.images_adopt(images=form.kept_images, owner=request.user)
            slots = {
                slot: [_store_picture(request, item) for item in items]
                for slot, items in form.slot_pictures.items()
            }
            job = services.job_create(
                owner=request.user,
                video_model=data["video_model"],
                prompt_text=data["prompt"],
                params=form.cleaned_params,
                images=pictures,
                slots=slots if slots and not pictures else None,
                idempotency_key=data.get("idempotency_key") or None,
                image_fit=data["image_fit"],
            )
        except ValidationError as exc:
            for field, errors in _form_errors(exc).items():
                form.add_error(field if field in form.fields else None, errors)
    if job is None:
        if request.htmx:
            return render(request, "videos/_create_form.html", {"form": form})
        return render(request, "videos/studio.html", _studio_context(request, form), status=400)

    if request.htmx:
        fresh = JobForm(
            initial={
                "video_model": data["video_model"].pk,
                **form.cleaned_params,
                "image_fit": data["image_fit"],
            }
        )
        return render(
            request,
            "videos/_create_done.html",
            {
                "form": fresh,
                "job": job,
                "history": selectors.prompt_history(owner=request.user),
                "waiting": selectors.job_waiting_for_worker(job=job),
            },
        )
    _say_started(request, job, _("Your video is on its way. It appears under “My jobs”."))
    return redirect("videos:studio")


def _store_picture(request: HttpRequest, item) -> ReferenceImage:
    """A new upload stored for its uploader, or a carried-over picture adopted (a copy when it
    is a teammate's)."""
    if isinstance(item, ReferenceImage):
        return images.images_adopt(images=[item], owner=request.user)[0]
    return services.reference_image_store(
        uploaded_by=request.user,
        name=item.name,
        content_type=item.content_type,
        data=item.data,
        width=item.width,
        height=item.height,
    )


def _create_replayed(request: HtmxHttpRequest, job) -> HttpResponse:
    """A form that was already sent (double click, resend, back button): say which job it made.

    Nothing new is created or charged; the person is told so in words, with a fresh form.
    """
    waiting = selectors.job_waiting_for_worker(job=job)
    if request.htmx:
        context = {"form": JobForm(), "replayed": _replayed_message(job), "waiting": waiting}
        return render(request, "videos/_create_form.html", context)
    messages.info(request, _replayed_message(job))
    if waiting:
        messages.warning(request, _queued_message())
    return redirect("videos:studio")


def _replayed_message(job) -> str:
    return _(
        "You already sent this form: it started “%(prompt)s” (job %(id)d). "
        "Nothing new was created or charged."
    ) % {"prompt": Truncator(job.prompt.text).chars(60), "id": job.pk}


def _studio_context(request: HttpRequest, form: JobForm) -> dict:
    return {
        "form": form,
        "history": selectors.prompt_history(owner=request.user),
        **_jobs_panel(request),
    }


@require_http_methods(["GET", "POST"])
def batch(request: HtmxHttpRequest) -> HttpResponse:
    """Many videos at once: prompts one per line, or a CSV file, with a report per row."""
    if request.method == "GET":
        if older := _older_jobs(request):
            return older
        return render(request, "videos/batch.html", {"form": BatchForm(), **_jobs_panel(request)})
    form = BatchForm(request.POST, request.FILES)
    outcomes = None
    status = 200
    if form.is_valid():
        try:
            created = services.jobs_create_batch(
                owner=request.user,
                items=form.items,
                idempotency_key=form.cleaned_data.get("idempotency_key") or None,
            )
        except DatabaseError:
            # The batch is one transaction, so a fault saved none of its rows.
            logger.exception("batch by %s: not saved", request.user)
            form.add_error(
                None,
                _(
                    "None of these videos were saved: the database could not be reached. "
                    "Nothing was charged; send the batch again in a moment."
                ),
            )
            status = 503
        except ValidationError as exc:  # the batch as a whole is over a limit
            form.add_error(None, exc.messages)
        else:
            outcomes = sorted([*created, *form.rejected], key=lambda o: o.row)
    report = None
    if outcomes is not None:
        report = {
            "rows": outcomes,
            "waiting": any(
                selectors.job_waiting_for_worker(job=o.job) for o in outcomes if o.created
            ),
            "created": [o for o in outcomes if o.created],
            "rejected": [o for o in outcomes if not o.created],
            "ignored_columns": form.ignored_columns,
        }
        initial = dict(form.cleaned_params) | {"video_model": form.cleaned_data["video_model"].pk}
        form = BatchForm(initial=initial)
    context = {"form": form, "report": report}
    if request.htmx:
        # 200 even for a fault: htmx swaps in only a 2xx answer, and the form says what happened.
        return render(request, "videos/_batch_done.html", context)
    if report is None and status == 200:
        status = 400
    return render(request, "videos/batch.html", {**context, **_jobs_panel(request)}, status=status)


def _form_from_query(request: HttpRequest, keys: tuple[str, ...]) -> JobForm | BatchForm:
    """An unbound create or batch form holding what the page currently shows (HTMX GETs)."""
    # The model's own settings (aspect_ratio, audio, ...) come along with the fixed keys.
    wanted = {key: value for key, value in request.GET.items() if value and key != "kind"}
    form_class = BatchForm if request.GET.get("kind") == "batch" else JobForm
    form = form_class(initial=wanted, viewer=request.user)
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
def job_card(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    # A card polling on its own asks for a fresh status where the provider is polled at a fixed
    # interval. With predictive polling the planner already asks densely around the expected
    # finish, and a watched card must not turn that back into a query every 3 s. A card fetched
    # because the live stream said it changed (?live=1, added by app.js) already shows the news.
    if (
        job.is_active
        and request.htmx
        and request.GET.get("live") != "1"
        and not job.provider.predictive_polling
    ):
        poll.job_request_refresh(job=job)
    on_detail = request.GET.get("on") == "detail"
    response = render(request, "videos/_job_card.html", {"job": job, "on_detail": on_detail})
    if on_detail and request.htmx and not job.is_active:
        response["HX-Refresh"] = "true"  # the page shows the video and review once it is ready
    return response


MAX_LIVE_JOBS = 50  # ids one stream may name (a page shows at most a few dozen cards)


@require_GET
def live_stream(request: HttpRequest) -> StreamingHttpResponse:
    """Server-sent events naming jobs that changed: the viewer's own (``mine=1``) and those the
    page shows (``job=<id>``, each checked visible like its card). Only ids go out; the page
    fetches the card itself through ``job_card``."""
    wanted = [int(v) for v in request.GET.getlist("job")[:MAX_LIVE_JOBS] if v.isdigit()]
    job_ids = selectors.jobs_visible_ids(viewer=request.user, ids=wanted)
    since = request.headers.get("Last-Event-ID") or request.GET.get("since", "")
    response = StreamingHttpResponse(
        live.stream(
            owner_id=request.user.pk if request.GET.get("mine") == "1" else None,
            job_ids=job_ids,
            since=int(since) if since.isdigit() else None,
        ),
        content_type="text/event-stream; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _detail_context(request: HttpRequest, job: VideoJob, **extra) -> dict:
    can_remix = job.state == "succeeded" and bool(job.remote_id)
    return {
        "job": job,
        "events": list(job.events.all()),
        "images": selectors.job_images(job=job),
        "pictures": selectors.job_pictures(job=job),
        "settings_rows": catalogue_settings_in_words(job),
        "retry_key": new_idempotency_key(),
        "can_manage": job.is_managed_by(request.user),
        "can_delete": job.is_managed_by(request.user, "delete"),
        "is_favourite": selectors.job_is_favourite(job=job, user=request.user),
        "provider_can_remix": (
            remixable := can_remix and selectors.provider_can_remix(job.provider)
        ),
        "remix_cost": services.job_remix_cost(job) if remixable else None,
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
def job_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    from soraweb.ops import services as ops_services
    from soraweb.ops.models import Notice

    job = _job_or_404(pk)
    # Opening the job a notice is about is reading that notice: the bell stops counting it.
    unread = Notice.objects.filter(user=request.user, job=job, read_at__isnull=True)
    ops_services.notices_mark_read(user=request.user, ids=list(unread.values_list("pk", flat=True)))
    return render(request, "videos/job_detail.html", _detail_context(request, job))


@require_POST
def job_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    _require_owner_or_staff(request, job)
    if not services.job_cancel(job=job, by=request.user):
        messages.error(request, _("This job has already finished, so it cannot be cancelled."))
    job = _job_or_404(pk)
    if request.htmx:
        return render(request, "videos/_job_card.html", {"job": job})
    return redirect("videos:job_detail", pk=pk)


@require_POST
def job_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    _require_owner_or_staff(request, job)
    key = request.POST.get("idempotency_key") or None
    if key and (len(key) > 64 or "\x00" in key):  # read outside a form: checked here
        messages.error(
            request, _("This form was damaged on its way; reload the page and try again.")
        )
        return redirect("videos:job_detail", pk=pk)
    try:
        new_job = services.job_retry(
            job=job,
            by=request.user,
            idempotency_key=key,
            accept_double_billing=request.POST.get("accept_double_billing") == "1",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("videos:job_detail", pk=pk)
    if request.htmx:
        if selectors.job_waiting_for_worker(job=new_job):
            messages.warning(request, _queued_message())
        return render(request, "videos/_job_inserted.html", {"job": new_job})
    _say_started(request, new_job, _("A new job was started from this one."))
    return redirect("videos:job_detail", pk=new_job.pk)


@require_POST
def job_ask_admin(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The owner of a job that needs attention asks the admins to check with the provider."""
    job = _job_or_404(pk)
    _require_owner_or_staff(request, job)
    if services.job_ask_admin(job=job, by=request.user):
        messages.success(request, _("An admin has been asked to check this video."))
    else:
        messages.info(request, _("This video no longer needs an admin to check it."))
    if request.htmx:
        job.refresh_from_db()
        return render(request, "videos/_job_card.html", {"job": job})
    return redirect("videos:job_detail", pk=pk)


@require_http_methods(["GET", "POST"])
def job_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET asks "are you sure?" (the page people without JavaScript see); POST deletes."""
    job = _job_or_404(pk)
    _require_owner_or_staff(request, job, "delete")
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
def job_review(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    form = ReviewForm(request.POST)
    saved = False
    if job.state != JobState.SUCCEEDED and not request.htmx:
        # The page of an unfinished job has no review form to show an error in: say it on top.
        messages.error(request, _("Only a finished video can be reviewed."))
        return render(request, "videos/job_detail.html", _detail_context(request, job), status=400)
    if form.is_valid():
        try:
            services.job_review(
                job=job,
                reviewer=request.user,
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as exc:
            for field, errors in _form_errors(exc).items():
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
def job_favourite(request: HtmxHttpRequest, pk: int) -> HttpResponse:
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
    refusal = _remix_refusal(job)
    if refusal:
        # This page shows no remix form to put the error in: say it on top.
        messages.error(request, refusal)
        return render(request, "videos/job_detail.html", _detail_context(request, job), status=400)
    if form.is_valid():
        try:
            new_job = services.job_remix(
                job=job,
                by=request.user,
                prompt_text=form.cleaned_data["prompt"],
                idempotency_key=form.cleaned_data.get("idempotency_key") or None,
            )
        except ValidationError as exc:
            for field, errors in _form_errors(exc).items():
                form.add_error("prompt" if field in ("prompt", "__all__") else None, errors)
        else:
            _say_started(
                request, new_job, _("Your remix is on its way. It appears under “My jobs”.")
            )
            return redirect(reverse("videos:studio") + f"#job-{new_job.pk}")
    return render(
        request,
        "videos/job_detail.html",
        _detail_context(request, job, remix_form=form),
        status=400,
    )


def _remix_refusal(job: VideoJob) -> str | None:
    """Why this job's page has no remix form (services.job_remix checks the same)."""
    if job.state != JobState.SUCCEEDED or not job.remote_id:
        return _("Only a finished video can be remixed.")
    if not selectors.provider_can_remix(job.provider):
        return _("This video’s provider cannot remix videos.")
    return None


@require_GET
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    choices = selectors.gallery_choices()
    filter_form = GalleryFilterForm(request.GET or None, choices=choices)
    filters = filter_form.filters()
    page = selectors.gallery_list(
        viewer=request.user, filters=filters, after=request.GET.get("after")
    )
    lang = get_language() or "en"
    for job in page.rows:
        job.settings_words = selectors.gallery_settings_words(job, choices["labels"], lang)
    # The filters travel with the cursor in every link; "page" is what links said before
    # cursors, dropped so an old bookmark opens the first page.
    query = request.GET.copy()
    for key in ("after", "page"):
        query.pop(key, None)
    context = {
        "jobs": page.rows,
        "page": page.number,
        "next_cursor": page.next_cursor,
        "has_next": page.has_next,
        "filter_form": filter_form,
        "filters": filters,
        "query": query.urlencode(),
        # The download form carries the filters, so "none ticked" means "what is shown".
        "filter_pairs": [(k, v) for k, values in query.lists() if k != "job" for v in values],
    }
    template = "videos/gallery.html"
    if request.htmx and not request.htmx.history_restore_request:
        template = {
            "load-more": "videos/_gallery_page.html",
            "gallery-results": "videos/_gallery_results.html",
        }.get(request.htmx.target or "", template)
    response = render(request, template, context)
    # The same address answers a whole page or a part of it: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


# A download of ticked videos names at most this many; with none ticked, the filters' videos, at
# most GALLERY_CSV_ROWS of them (newest first, or in the chosen order).
GALLERY_CSV_PICKED = 500
GALLERY_CSV_ROWS = 10_000


@require_GET
def gallery_csv(request: HttpRequest) -> HttpResponse:
    """The gallery's videos as a spreadsheet: those ticked ("job" in the address), else every
    video the filters find. Only finished videos the gallery shows, whoever asks for which id."""
    choices = selectors.gallery_choices()
    filters = GalleryFilterForm(request.GET or None, choices=choices).filters()
    picked = [int(v) for v in request.GET.getlist("job")[:GALLERY_CSV_PICKED] if v.isdigit()]
    if picked:
        qs = selectors.gallery_videos(viewer=request.user).filter(pk__in=picked)
    else:
        qs = selectors.gallery_videos(viewer=request.user, filters=filters)
    order = selectors.SORTS.get(filters.sort, selectors.SORTS["newest"])
    qs = qs.select_related("owner", "prompt", "video_model").order_by(*order)
    response, out = csv_download(f"soraweb-videos-{timezone.localdate().isoformat()}.csv")
    out.writerow(
        [
            _("job"),
            _("finished (%(zone)s)") % {"zone": timezone.get_current_timezone_name()},
            _("person"),
            _("model"),
            _("prompt"),
            _("review"),
            _("settings"),
            _("page"),
        ]
    )
    lang = get_language() or "en"
    for job in qs[:GALLERY_CSV_ROWS].iterator(chunk_size=1000):
        words = selectors.gallery_settings_words(job, choices["labels"], lang)
        out.writerow(
            [
                job.pk,
                timezone.localtime(job.finished_at).strftime("%Y-%m-%d %H:%M:%S"),
                text_cell(job.owner.get_username()),
                text_cell(job.video_model.display_name if job.video_model else job.model_name),
                text_cell(job.prompt.text),
                job.get_review_state_display(),
                " · ".join(str(word) for word in words),
                request.build_absolute_uri(reverse("videos:job_detail", args=[job.pk])),
            ]
        )
    return response


def _download_name(job: VideoJob, extension: str) -> str:
    """A name a person can find again in their downloads: date, the prompt's first words, model."""
    from django.utils.text import slugify

    words = slugify(" ".join(job.prompt.text.split()[:6]), allow_unicode=True)
    parts = [f"{job.created_at:%Y-%m-%d}", words[:48].strip("-"), slugify(job.model_name)]
    return "-".join(part for part in parts if part) + extension


@require_GET
def job_video(request: HttpRequest, pk: int) -> HttpResponseBase:
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
def job_poster(request: HttpRequest, pk: int) -> HttpResponseBase:
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
def reference_image(request: HttpRequest, token) -> HttpResponseBase:
    """A reference picture, by its random token: its uploader's, or one used by a visible job."""
    image = images.image_for_viewer(token=token, user=request.user)
    if image is None:
        raise Http404(_("No such picture."))
    return ranged_file_response(request, image.file, content_type=image.content_type)


@require_GET
def sent_image(request: HttpRequest, pk: int, sent_id: int) -> HttpResponseBase:
    """The fitted copy of a picture that a job sent to its provider (as visible as the job)."""
    job = _job_or_404(pk)
    sent = job.sent_images.filter(pk=sent_id).first()
    if sent is None:
        raise Http404(_("No such picture."))
    return ranged_file_response(request, sent.file, content_type=sent.content_type)


# Choosing a language must work on the sign-in page too.
set_language = login_not_required(require_POST(django_set_language))


_UNKNOWABLE_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@csrf_exempt  # authenticated by its signature instead; a provider has no session or CSRF token
@login_not_required
@require_POST
def provider_webhook(request: HttpRequest, provider_id: int) -> HttpResponse:
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    if length > webhooks.MAX_BODY_BYTES:
        return JsonResponse({"error": "body too large"}, status=413)
    provider = Provider.objects.filter(pk=provider_id, enabled=True).first()
    secret = provider.webhook_secret_value if provider else ""
    try:
        webhooks.secret_bytes(secret)
    except webhooks.WebhookError:
        secret = ""
    body = request.body
    try:
        # A provider without a (usable) secret, or no provider at all, is checked against a
        # random secret nobody knows: a signed-out caller gets exactly the answers a provider
        # with a secret it does not know gives, so whether one is set cannot be told apart.
        msg_id = webhooks.verify(secret or _UNKNOWABLE_SECRET, request.headers, body)
        if not secret:
            raise webhooks.WebhookError("signature does not match")
        event = json.loads(body)
        event_type = str(event.get("type", ""))
        remote_id = str((event.get("data") or {}).get("id", ""))
    except webhooks.WebhookError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except (ValueError, AttributeError):
        return JsonResponse({"error": "body is not a webhook event"}, status=400)
    assert provider is not None  # no provider, no secret: refused above
    result = poll.webhook_receive(
        provider=provider, webhook_id=msg_id, event_type=event_type, remote_id=remote_id
    )
    return JsonResponse({"status": result})
