// The rating page: a USB-HID keypad types a digit like a keyboard; the digit is the rating.
(function () {
  "use strict";
  var form = document.getElementById("rate-form");
  if (!form) { return; }
  var sent = false;
  document.addEventListener("keydown", function (event) {
    if (sent || event.ctrlKey || event.altKey || event.metaKey) { return; }
    // Any digit 1–9 is sent: one beyond the scale is refused and counted by the box, and said on screen.
    if (!/^[1-9]$/.test(event.key)) { return; }
    event.preventDefault();
    sent = true;  // a keypad that repeats or bounces sends one rating
    var level = document.createElement("input");
    level.type = "hidden";
    level.name = "level";
    level.value = event.key;
    form.appendChild(level);
    form.querySelector('input[name="source"]').value = "keyboard";
    form.submit();
  });
})();
