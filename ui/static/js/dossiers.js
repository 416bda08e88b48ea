// Dossier page: "Thêm dòng" adds a row to the missing-documents list without a round trip.
// Without JavaScript the same button posts the form and the server adds the row.
"use strict";

(function () {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.add-row");
    if (!button) return;
    const list = button.closest("fieldset").querySelector("[data-rows]");
    const rows = list.querySelectorAll("[data-row]");
    if (!rows.length) return;
    event.preventDefault();
    const next = rows.length;
    const row = rows[rows.length - 1].cloneNode(true);
    row.querySelectorAll(".field-error").forEach((el) => el.remove());
    row.querySelectorAll("[id], [name], [for]").forEach((el) => {
      for (const attr of ["id", "name", "for"]) {
        const value = el.getAttribute(attr);
        if (value) el.setAttribute(attr, value.replace(/_\d+$/, "_" + next));
      }
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
      if (el.tagName === "INPUT") el.value = el.type === "number" ? "1" : "";
      if (el.tagName === "SELECT") el.selectedIndex = 0;
    });
    list.appendChild(row);
    const name = row.querySelector("input");
    if (name) name.focus();
  });
})();
