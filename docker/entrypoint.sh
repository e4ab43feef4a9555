#!/bin/sh
# soraweb container entry point.
#   web      (default) migrate under a lock, then gunicorn on $SORAWEB_PORT (8000)
#   worker   migrate under a lock, then a django-q2 cluster (manage.py qcluster)
#   manage   any manage.py command, e.g. `manage createsuperuser`
#   anything else is run as given.
# SORAWEB_MIGRATE_ON_START=0 skips the migration (run `manage soraweb_migrate` yourself).
set -eu

migrate() {
    if [ "${SORAWEB_MIGRATE_ON_START:-1}" = "1" ]; then
        python manage.py soraweb_migrate
    fi
}

role="${1:-web}"
case "$role" in
    web)
        migrate
        exec gunicorn --config python:soraweb.gunicorn_conf soraweb.wsgi:application
        ;;
    worker)
        migrate
        # --skip-checks: migrate (above) ran them; in the cluster they would import every view
        # into the main process and so into each process it forks (about 5 MB apiece).
        exec python manage.py qcluster --skip-checks
        ;;
    manage)
        shift
        exec python manage.py "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
