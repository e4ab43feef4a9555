from __future__ import annotations

from django.urls import path

from soraweb.videos import views

app_name = "videos"

urlpatterns = [
    path("", views.studio, name="studio"),
    path("batch/", views.batch, name="batch"),
    path("form/options/", views.form_options, name="form_options"),
    path("form/estimate/", views.estimate, name="estimate"),
    path("gallery/", views.gallery, name="gallery"),
    path("gallery.csv", views.gallery_csv, name="gallery_csv"),
    path("language/", views.set_language, name="set_language"),
    path("live/", views.live_stream, name="live"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/card/", views.job_card, name="job_card"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job_retry"),
    path("jobs/<int:pk>/ask-admin/", views.job_ask_admin, name="job_ask_admin"),
    path("jobs/<int:pk>/delete/", views.job_delete, name="job_delete"),
    path("jobs/<int:pk>/review/", views.job_review, name="job_review"),
    path("jobs/<int:pk>/favourite/", views.job_favourite, name="job_favourite"),
    path("jobs/<int:pk>/remix/", views.job_remix, name="job_remix"),
    path("jobs/<int:pk>/video.mp4", views.job_video, name="job_video"),
    path("jobs/<int:pk>/poster.jpg", views.job_poster, name="job_poster"),
    path("images/<uuid:token>/", views.reference_image, name="reference_image"),
    path("jobs/<int:pk>/sent/<int:sent_id>/", views.sent_image, name="sent_image"),
    path("webhooks/providers/<int:provider_id>/", views.provider_webhook, name="provider_webhook"),
]
