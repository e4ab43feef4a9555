/* The catalogue editor in the admin (templates/admin/videos/videomodel/editor.html).
   Progressive enhancement only: the page works without it (it always has blank rows).
   Adds rows from <template>s, shows only the settings of each parameter's type, and shows a
   value's table of parts when its kind is "group of fields". */
(function () {
  "use strict";

  function showType(row) {
    var select = row.querySelector(".cat-type");
    if (select) row.setAttribute("data-type", select.value);
  }

  /* A value's kind: a group of fields shows its table of parts instead of the one cell. */
  function showKind(box) {
    if (!box) return;
    var kind = box.querySelector(":scope > .cat-kind").value;
    var group = kind === "object";
    box.setAttribute("data-kind", kind);
    box.querySelector(":scope > .cat-scalar").hidden = group;
    box.querySelector(":scope > .cat-parts").hidden = !group;
  }

  function start() {
    var ed = document.getElementById("catalogue-editor");
    if (!ed) return;
    ed.classList.add("cat-js");
    ed.querySelectorAll(".cat-add").forEach(function (b) { b.hidden = false; });
    ed.querySelectorAll("tbody.cat-param").forEach(showType);
    ed.addEventListener("change", function (e) {
      if (e.target.classList.contains("cat-type")) showType(e.target.closest("tbody.cat-param"));
      if (e.target.classList.contains("cat-kind")) showKind(e.target.closest(".cat-value"));
    });
    ed.addEventListener("click", function (e) {
      var button = e.target.closest(".cat-add");
      if (!button) return;
      var box = button.parentElement;
      var tpl = box.querySelector(":scope > template");
      var count = box.querySelector(":scope > input[data-count]");
      var into = button.dataset.into
        ? ed.querySelector(button.dataset.into)
        : box.querySelector(":scope > [data-rows], :scope > table > [data-rows]");
      if (!tpl || !count || !into) return;
      var n = parseInt(count.value, 10) || 0;
      into.insertAdjacentHTML("beforeend", tpl.innerHTML.split(tpl.dataset.placeholder).join(String(n)));
      count.value = String(n + 1);
      var added = into.lastElementChild;
      if (added) added.querySelectorAll(".cat-add").forEach(function (b) { b.hidden = false; });
      if (added && added.matches("tbody.cat-param")) showType(added);
      var first = added && added.querySelector("input[type=text]");
      if (first) first.focus();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

/* A chip's value text ticks its box, as a label would (the value is not a label: it is data). */
document.addEventListener("click", function (e) {
  var val = e.target.closest && e.target.closest(".cat-editor .cat-val");
  if (!val) return;
  var box = val.parentElement.querySelector("input[type=checkbox]");
  if (box) box.click();
});
