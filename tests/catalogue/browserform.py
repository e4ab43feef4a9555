"""What a browser would submit for a form on a page: the fields' current values, read from the
HTML as rendered (checked boxes only, each select's chosen option, nothing inside <template>).
Lets admin-client tests post exactly what an unchanged page would post."""

from __future__ import annotations

from html.parser import HTMLParser


class _Fields(HTMLParser):
    def __init__(self, form_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.template_depth = 0
        self.pairs: list[tuple[str, str]] = []
        self._select: dict | None = None
        self._option: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "template":
            self.template_depth += 1
            return
        if self.template_depth:
            return
        if tag == "form":
            self.in_form = self.form_id is None or a.get("id") == self.form_id
            return
        if not self.in_form or "disabled" in a:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            name = a.get("name")
            if not name or kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((name, a.get("value", "on")))
                return
            self.pairs.append((name, a.get("value", "")))
        elif tag == "select":
            self._select = {"name": a.get("name"), "first": None, "chosen": []}
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "text": "", "selected": "selected" in a}
        elif tag == "textarea":
            self._textarea = {"name": a.get("name"), "text": ""}

    def handle_data(self, data):
        if self._option is not None:
            self._option["text"] += data
        if self._textarea is not None:
            self._textarea["text"] += data

    def handle_endtag(self, tag):
        if tag == "template":
            self.template_depth -= 1
            return
        if self.template_depth:
            return
        if tag == "form":
            self.in_form = False
        elif tag == "option" and self._option is not None and self._select is not None:
            opt = self._option
            value = opt["value"] if opt["value"] is not None else opt["text"].strip()
            if self._select["first"] is None:
                self._select["first"] = value
            if opt["selected"]:
                self._select["chosen"].append(value)
            self._option = None
        elif tag == "select" and self._select is not None:
            sel = self._select
            if sel["name"]:
                values = sel["chosen"][-1:] or ([sel["first"]] if sel["first"] is not None else [])
                self.pairs.extend((sel["name"], v) for v in values)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            if self._textarea["name"]:
                self.pairs.append((self._textarea["name"], self._textarea["text"].lstrip("\n")))
            self._textarea = None


def form_fields(html: str, form_id: str | None = None) -> list[tuple[str, str]]:
    parser = _Fields(form_id)
    parser.feed(html)
    return parser.pairs


def as_post(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out
