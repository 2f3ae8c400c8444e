/* Accounting changes: "Reject selected…" loads its confirmation (htmx) into a modal dialog;
   Escape or Cancel closes it and gives the focus back to the button. Without JavaScript the
   same button opens the confirmation as a page. */
(function () {
  "use strict";

  var opener = null;

  document.addEventListener("click", function (event) {
    var open = event.target.closest && event.target.closest("[data-reject-open]");
    if (open) opener = open;
    var close = event.target.closest && event.target.closest("[data-dialog-close]");
    if (close) {
      var dialog = close.closest("dialog");
      if (dialog) { event.preventDefault(); dialog.close(); }
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.target || event.target.id !== "reject-dialog-body") return;
    var dialog = document.getElementById("reject-dialog");
    if (!dialog) return;
    if (!dialog.open) dialog.showModal();
    var reason = dialog.querySelector("textarea");
    if (reason) reason.focus();
  });

  // "close" does not bubble: listen in the capture phase.
  document.addEventListener("close", function (event) {
    if (event.target && event.target.id === "reject-dialog" && opener) opener.focus();
  }, true);
})();
