"""The background steps of a job: queue, submit, poll (and its loop), archive, recover.

Each module owns one step. Nothing here imports ``soraweb.videos.services`` (user writes) or
``soraweb.videos.tasks`` (the django-q2 entry points, which only call into this package).
"""
