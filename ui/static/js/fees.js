// The payment form: show the cash fields only for cash, and the change as the officer types what was received.
// Without this script every field shows and the server says the change after saving.
(function () {
  "use strict";
  function money(text) {
    var digits = (text || "").replace(/[.,\s₫đ]/g, "");
    return /^[0-9]{1,15}$/.test(digits) ? parseInt(digits, 10) : null;
  }
  function vnd(amount) {
    return String(amount).replace(/\B(?=(\d{3})+(?!\d))/g, ".") + " ₫";
  }
  document.querySelectorAll("form[data-take-payment]").forEach(function (form) {
    if (form.dataset.ready) { return; }
    form.dataset.ready = "1";
    var amount = form.querySelector("[data-amount]");
    var received = form.querySelector("[data-received]");
    var change = form.querySelector("[data-change]");
    function update() {
      var checked = form.querySelector("input[name=method]:checked");
      var method = checked ? checked.value : "";
      form.querySelectorAll("[data-cash-only]").forEach(function (el) { el.hidden = method !== "cash"; });
      var hint = form.querySelector("[data-card-hint]");
      if (hint) { hint.hidden = method !== "card"; }
      var a = money(amount.value), r = money(received.value);
      if (a === null || r === null) { change.textContent = "—"; change.classList.remove("short"); return; }
      change.textContent = r >= a ? vnd(r - a) : "−" + vnd(a - r);
      change.classList.toggle("short", r < a);
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  });
})();

// The cash-up form: the difference between the cash counted and the cash expected, as it is typed.
(function () {
  "use strict";
  document.querySelectorAll("tr[data-count-row]").forEach(function (row) {
    var input = row.querySelector("[data-counted-input]");
    var cell = row.querySelector("[data-difference]");
    var expected = parseInt(row.dataset.expected, 10);
    function update() {
      var digits = (input.value || "").replace(/[.,\s₫đ]/g, "");
      if (!/^[0-9]{1,15}$/.test(digits)) { cell.textContent = "—"; cell.classList.remove("flagged"); return; }
      var diff = parseInt(digits, 10) - expected;
      cell.textContent = (diff > 0 ? "+" : diff < 0 ? "−" : "") + String(Math.abs(diff)).replace(/\B(?=(\d{3})+(?!\d))/g, ".") + " ₫";
      cell.classList.toggle("flagged", diff !== 0);
    }
    input.addEventListener("input", update);
    update();
  });
})();
