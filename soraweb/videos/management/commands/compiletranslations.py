"""Compile soraweb/locale/*/LC_MESSAGES/*.po into .mo files without GNU gettext.

Django's own ``compilemessages`` needs ``msgfmt``, which a machine with only Python and make may
not have; polib writes the same format. ``make messages`` runs this after ``makemessages``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def po_files() -> list[Path]:
    return sorted(
        path for folder in settings.LOCALE_PATHS for path in Path(folder).glob("*/LC_MESSAGES/*.po")
    )


def compile_po(po_path: Path) -> bytes:
    import polib

    return polib.pofile(str(po_path)).to_binary()


class Command(BaseCommand):
    help = "Compile the project's translation catalogues (.po) into .mo files, in Python."

    def handle(self, *args, **options) -> None:
        try:
            import polib  # noqa: F401
        except ImportError as exc:
            raise CommandError("polib is missing: pip install -e '.[dev]'") from exc
        for po_path in po_files():
            mo_path = po_path.with_suffix(".mo")
            data = compile_po(po_path)
            if not mo_path.exists() or mo_path.read_bytes() != data:
                mo_path.write_bytes(data)
                self.stdout.write(f"compiled {mo_path.relative_to(settings.BASE_DIR)}")
