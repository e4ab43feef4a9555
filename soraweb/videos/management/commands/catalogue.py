"""``manage.py catalogue export [FILE]`` and ``manage.py catalogue import FILE``.

The file is the catalogue format of ``soraweb/catalogue/README.md``: exported models carry
their provider's models as they are now; importing one creates or updates, per model name, the
models of one provider (``--provider``, else the environment's provider). A broken file changes
nothing and is answered with every problem and its line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from soraweb.catalogue.io import CatalogueFileError, export_text, load_text
from soraweb.catalogue.presets import PRESETS_FILE
from soraweb.videos.models import Provider, VideoModel


class Command(BaseCommand):
    help = "Export or import the model catalogue as a JSON file (import also takes --presets)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=("export", "import"))
        parser.add_argument("file", nargs="?", help="the file (export: default standard output)")
        parser.add_argument("--provider", help="the provider's name (default: the environment's)")
        parser.add_argument(
            "--presets", action="store_true", help="import the shipped presets (no FILE needed)"
        )

    def _provider(self, name: str | None) -> Provider:
        providers = Provider.objects.all()
        provider = (
            providers.filter(name=name).first()
            if name
            else providers.filter(from_environment=True).order_by("pk").first()
        )
        if provider is None:
            raise CommandError(f"No provider {name!r}." if name else "No environment provider.")
        return provider

    def handle(
        self, *args, action: str, file: str | None, provider: str | None, presets: bool, **o
    ):
        target = self._provider(provider)
        if action == "export":
            rows = VideoModel.objects.filter(provider=target).order_by("position", "pk")
            text = export_text([row.catalogue_spec() for row in rows])
            if file:
                Path(file).write_text(text, encoding="utf-8")
                self.stdout.write(f"Wrote {rows.count()} model(s) of {target} to {file}.")
            else:
                sys.stdout.write(text)
            return
        path = PRESETS_FILE if presets else Path(file or "")
        if not presets and not file:
            raise CommandError("Say which file to import (or --presets).")
        try:
            models = load_text(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        except CatalogueFileError as exc:
            raise CommandError(f"{path} was not imported:\n{exc}") from None
        with transaction.atomic():
            for spec in models:
                VideoModel.objects.update_or_create(
                    provider=target,
                    name=spec.name,
                    defaults={"display_name": spec.label.en, "spec": spec.to_dict()},
                )
        self.stdout.write(f"Imported {len(models)} model(s) into {target}.")
