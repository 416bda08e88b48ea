// The display board: the event stream keeps the counters and the recent calls up to date, and each
// new call is spoken (once the sound is switched on: browsers only play sound after a click).
(function () {
  "use strict";
  var root = document.querySelector("[data-display]");
  if (!root) { return; }
  var state = root.querySelector("[data-link-state]");
  var recent = root.querySelector("[data-recent]");
  var template = document.getElementById("call-template");
  var sound = false;
  var voices = [];
  var playing = false;

  function show(call) {
    var box = root.querySelector('[data-counter="' + call.counter + '"] [data-number]');
    if (box) { box.textContent = call.number; box.parentNode.classList.add("display-fresh"); }
  }
  function list(calls) {
    recent.textContent = "";
    calls.slice(0, 8).forEach(function (call) { add(call, false); });
  }
  function add(call, first) {
    var item = template.content.firstElementChild.cloneNode(true);
    item.querySelector("[data-n]").textContent = call.number;
    item.querySelector("[data-c]").textContent = root.dataset.counterLabel + " " + call.counter;
    if (first) { recent.insertBefore(item, recent.firstChild); } else { recent.appendChild(item); }
    while (recent.children.length > 8) { recent.removeChild(recent.lastChild); }
  }
  function next() {
    if (playing || !voices.length) { return; }
    playing = true;
    var audio = new Audio(voices.shift());
    audio.onended = audio.onerror = function () { playing = false; next(); };
    audio.play().catch(function () { playing = false; next(); });
  }
  root.querySelector("[data-sound]").addEventListener("click", function (event) {
    sound = true;
    event.target.disabled = true;
  });
  var source = new EventSource(root.dataset.events);
  source.addEventListener("open", function () { state.textContent = root.dataset.connected; });
  source.addEventListener("error", function () { state.textContent = root.dataset.reconnecting; });
  source.addEventListener("board", function (event) {
    var board = JSON.parse(event.data);
    board.counters.forEach(show);
    list(board.recent);
  });
  source.addEventListener("call", function (event) {
    var call = JSON.parse(event.data);
    show(call);
    add(call, true);
    root.dataset.lastCall = call.number + "@" + call.counter;
    if (sound) { voices.push(call.voice_url); next(); }
  });
})();
