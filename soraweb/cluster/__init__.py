"""soraweb's ``manage.py qcluster``: django-q2's cluster with its sentinel in the command's process.

django-q2's own command forks a sentinel and then only waits for it, so a cluster was five
copies of the Django process (main, sentinel, monitor, pusher, a worker), about 50 MB of RSS
each. Here the sentinel's guard loop runs in the command's own process: one process fewer, with
django-q2's own workers, monitor, pusher, guard, scheduler and stop order unchanged. The app sits
before ``django_q`` in ``INSTALLED_APPS`` so that its command is the one ``qcluster`` names.
"""
