// Một Cửa Edge — small helpers shared by the pages (no framework, works offline).
"use strict";

// Fold text the way the server does: no accents, đ → d, lower case (accent-insensitive search).
function motcuaFold(text) {
  return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
    .replace(/[đĐ]/g, "d").toLowerCase().replace(/\s+/g, " ").trim();
}
window.motcuaFold = motcuaFold;

// Buttons marked data-print print the page.
document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-print]");
  if (target) { event.preventDefault(); window.print(); }
});

// Forms marked data-once cannot be sent twice by a double click.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form[data-once]")) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  // A disabled button is not sent: carry the pressed one's name and value in a hidden field.
  const pressed = event.submitter;
  if (pressed && pressed.name) {
    const carried = document.createElement("input");
    carried.type = "hidden";
    carried.name = pressed.name;
    carried.value = pressed.value;
    form.appendChild(carried);
  }
  form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; });
});

// Signing out removes the intake drafts kept in this browser: they hold citizens' personal data.
document.addEventListener("submit", (event) => {
  if (!event.target.matches("form[action$='/logout']")) return;
  try {
    Object.keys(localStorage).filter((k) => k.startsWith("motcua.intake.draft.")).forEach((k) => localStorage.removeItem(k));
  } catch (err) { /* storage unavailable: nothing kept */ }
});
