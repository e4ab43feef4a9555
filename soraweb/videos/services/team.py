"""What the team does with each other's videos: reviews, favourites, deleting."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from soraweb.videos.models import (
    SETTLED_STATES,
    Favourite,
    JobEvent,
    JobState,
    Prompt,
    ReferenceImage,
    Review,
    ReviewDecision,
    VideoJob,
)

logger = logging.getLogger(__name__)

# --- The studio: picture fitting, reviews, favourites, deleting, remixes, batches ---------------


def job_review(*, job: VideoJob, reviewer, decision: str, comment: str = "") -> Review:
    """Add a decision (or a plain comment) to a finished video's review thread."""
    comment = (comment or "").strip()
    if decision not in ReviewDecision.values:
        raise ValidationError(
            {"decision": _("Choose “Approve”, “Needs changes”, “Reject” or “Comment only”.")}
        )
    if job.state != JobState.SUCCEEDED:
        raise ValidationError(_("Only a finished video can be reviewed."))
    if decision == ReviewDecision.COMMENT and not comment:
        raise ValidationError({"comment": _("Write a comment first.")})
    if len(comment) > 5000:
        raise ValidationError({"comment": _("A comment can be at most 5,000 characters long.")})
    if decision == ReviewDecision.APPROVED and job.owner_id == reviewer.pk:
        from soraweb.ops.models import BudgetPolicy  # the team's settings row

        if not BudgetPolicy.load().allow_self_approval:
            raise ValidationError(
                {
                    "decision": _(
                        "You cannot approve your own video: someone else on the team has to. "
                        "You can still comment or ask for changes."
                    )
                }
            )
    with transaction.atomic():
        previous = (
            Review.objects.filter(job=job)
            .exclude(decision=ReviewDecision.COMMENT)
            .select_related("reviewer")
            .order_by("-created_at", "-id")
            .first()
        )
        review = Review.objects.create(
            job=job, reviewer=reviewer, decision=decision, comment=comment
        )
        if decision != ReviewDecision.COMMENT:
            VideoJob.objects.filter(pk=job.pk).update(
                review_state=decision, reviewed_at=review.created_at
            )
            job.review_state, job.reviewed_at = decision, review.created_at
            if (
                previous is not None
                and previous.reviewer_id != reviewer.pk
                and previous.decision != decision
            ):
                # Who overrode whom stays in the history even if the thread is read quickly.
                # The message is for the admin's event log; pages render data in their language.
                by, was = reviewer.get_username(), _reviewer_name(previous)
                JobEvent.objects.create(
                    job=job,
                    message=f"{by} replaced {was or 'a former member'}'s verdict "
                    f"({previous.decision} -> {decision})",
                    data={
                        "kind": "verdict_replaced",
                        "by": by,
                        "previous_by": was,
                        "previous": previous.decision,
                        "decision": decision,
                    },
                )
    return review


def _reviewer_name(review: Review) -> str:
    return review.reviewer.get_username() if review.reviewer else ""  # account since deleted


def job_favourite_set(*, job: VideoJob, user, on: bool) -> bool:
    """Mark or unmark a video as one of a person's favourites. Saying the same twice is harmless."""
    if on:
        try:
            with transaction.atomic():
                Favourite.objects.get_or_create(user=user, job=job)
        except IntegrityError:  # the same click arrived twice at once
            pass
    else:
        Favourite.objects.filter(user=user, job=job).delete()
    return on


def job_delete(*, job: VideoJob, by) -> None:
    """Remove a settled job with its video, poster and history. Only its owner or staff may."""
    if not job.is_managed_by(by, "delete"):
        raise PermissionDenied(
            _("Only the person who made this job, or an administrator, can do that.")
        )
    if not job.can_delete:
        raise ValidationError(_("This video is still being made. Cancel it first, then delete it."))
    storage = job.video.storage
    names = [f.name for f in (job.video, job.poster) if f.name]
    names += [name for name in job.sent_images.values_list("file", flat=True) if name]
    image_ids = list(job.images.values_list("pk", flat=True))
    with transaction.atomic():
        deleted, _counts = VideoJob.objects.filter(pk=job.pk, state__in=SETTLED_STATES).delete()
        if not deleted:
            raise ValidationError(_("This job changed meanwhile; reload the page and try again."))
        if not VideoJob.objects.filter(prompt_id=job.prompt_id).exists():
            Prompt.objects.filter(pk=job.prompt_id).delete()
        orphans = list(ReferenceImage.objects.filter(pk__in=image_ids, jobs__isnull=True))
        names += [image.file.name for image in orphans if image.file.name]
        ReferenceImage.objects.filter(pk__in=[image.pk for image in orphans]).delete()
        logger.info("job %s deleted by %s", job.pk, by)
        transaction.on_commit(lambda: _delete_files(storage, names))


def _delete_files(storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # a missing file must not undo the deletion the person asked for
            logger.warning("could not delete %s", name, exc_info=True)
