"""`make bench`: run every benchmark against real parts and print one table.

Each benchmark runs on a throwaway embedded installation (SQLite, ORM broker, local media) in a
temporary folder, with the simulator over HTTP. Targets come from the issues; a row says whether
it was met. Select benchmarks by name: `python -m tests.bench pipeline gallery`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time


def main(argv: list[str]) -> int:
    data_dir = tempfile.mkdtemp(prefix="soraweb-bench-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "soraweb.settings",
            "SORAWEB_DATA_DIR": data_dir,
            "SORAWEB_LOG_LEVEL": "WARNING",
        }
    )
    for key in ("SORAWEB_PROVIDER_BASE_URL", "DATABASE_URL", "REDIS_URL"):
        os.environ.pop(key, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    suites = discover()
    wanted = argv or list(suites)
    rows: list[tuple[str, str, str, str]] = []
    started = time.monotonic()
    for name in wanted:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(suites[name](data_dir))
    print_table(rows)
    print(f"\n{len(rows)} measurements in {time.monotonic() - started:.0f} s; data in {data_dir}")
    return 0


# Every module of this package that defines `run(data_dir) -> rows` is a benchmark, in this order
# first, then the rest alphabetically. A new benchmark is a new module; nothing else to edit.
FIRST = ("pipeline", "gallery", "load")


def discover() -> dict:
    import importlib
    import pkgutil

    import tests.bench as package

    names = [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]
    ordered = [n for n in FIRST if n in names] + sorted(n for n in names if n not in FIRST)
    suites = {}
    for name in ordered:
        module = importlib.import_module(f"tests.bench.{name}")
        if callable(getattr(module, "run", None)):
            suites[name] = module.run
    return suites


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    header = ("benchmark", "measured", "target", "met")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    line = "+".join("-" * (w + 2) for w in widths)
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + line + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
