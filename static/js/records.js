// Customer, invoice and webhook pages. A webhook endpoint subscribes to every event type
// or to single ones, never both: ticking one side clears the other (the server refuses
// both as well, for a page without this script).
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox" || !box.checked) return;
    var choice = box.closest("[data-event-choice]");
    if (!choice) return;
    if (box.name === "all_events") {
      choice.querySelectorAll('input[name="events"]').forEach(function (single) {
        single.checked = false;
      });
    } else if (box.name === "events") {
      var all = choice.querySelector('input[name="all_events"]');
      if (all) all.checked = false;
    }
  });
})();
