// Inputs a list edits in place (list_editable) get a name a screen reader can say: the column's
// header and the row's first cell ("enabled — Sora 2"). Django renders them without a label.
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("result_list");
  if (!table) return;
  const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll("tbody tr")) {
    const cells = [...row.children];
    const rowName = (cells.find((c) => c.tagName === "TH") || cells[1] || cells[0]).textContent.trim();
    cells.forEach((cell, i) => {
      for (const input of cell.querySelectorAll("input:not([type=hidden]), select, textarea")) {
        if (input.labels?.length || input.hasAttribute("aria-label")) continue;
        input.setAttribute("aria-label", [headers[i], rowName].filter(Boolean).join(" — "));
      }
    });
  }
});
