/* ARPilot collections: the worklist's keyboard (j/k or the arrows move, Enter/o opens the
   customer, c n p d s open an action's form in the row, ? the keys, Esc closes the form,
   Ctrl+Enter sends it),
   and the action forms of the worklist and the customer page's panel (Cancel closes them,
   a promise's amount follows the invoices ticked until the clerk types one). Everything
   works without it: the buttons are links to the forms' own pages. */
(function () {
  "use strict";
  if (window.arpilotCollections) return; // loaded once, whatever includes it
  window.arpilotCollections = true;

  function isTyping(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  // --- the worklist's current row -----------------------------------------------------------
  var currentId = null;

  function worklist() { return document.querySelector("[data-collections-worklist]"); }

  function rows() {
    var list = worklist();
    return list ? Array.prototype.slice.call(list.querySelectorAll(".wl-row")) : [];
  }

  function setCurrent(row, focus) {
    rows().forEach(function (el) { el.classList.remove("is-current"); });
    if (!row) return;
    row.classList.add("is-current");
    currentId = row.id;
    if (focus !== false) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function current() {
    var row = currentId && document.getElementById(currentId);
    if (row) return row;
    var list = rows();
    return list.length ? list[0] : null;
  }

  // Past the last row, the next page (before the first: the previous one).
  function turnPage(step) {
    var link = document.querySelector('.pagination a[rel="' + (step > 0 ? "next" : "prev") + '"]');
    if (!link) return false;
    try { window.sessionStorage.setItem("arpilot-worklist-focus", step > 0 ? "first" : "last"); } catch (e) { /* private mode */ }
    window.location.assign(link.href);
    return true;
  }

  function move(step) {
    var list = rows();
    if (!list.length) return;
    var row = current();
    // The first key press takes the focus to the row the page shows as current.
    if (!row.contains(document.activeElement)) { setCurrent(row); return; }
    var wanted = list.indexOf(row) + step;
    if ((wanted >= list.length || wanted < 0) && turnPage(step)) return;
    setCurrent(list[Math.min(Math.max(wanted, 0), list.length - 1)]);
  }

  function press(row, key) {
    var control = row && row.querySelector('[data-shortcut="' + key + '"]');
    if (!control) return false;
    control.click();
    return true;
  }

  // --- the action forms ---------------------------------------------------------------------
  function slotOf(element) { return element && element.closest && element.closest(".action-slot"); }

  function closeSlot(slot) {
    if (!slot) return;
    var row = slot.closest(".wl-row");
    var opener = slot.getAttribute("data-opener");
    slot.innerHTML = "";
    if (row) { setCurrent(row); return; }
    var button = opener && document.querySelector('[data-action="' + opener + '"]');
    if (button) button.focus();
  }

  function focusForm(slot) {
    var first = slot.querySelector("[aria-invalid='true']") || slot.querySelector("[autofocus]") ||
      slot.querySelector("input:not([type='hidden']):not([disabled]), select, textarea, button");
    if (first) first.focus();
  }

  function promiseTotal(form) {
    var amount = form.querySelector("[data-promise-amount]");
    if (!amount || amount.dataset.touched) return;
    var total = 0;
    form.querySelectorAll('input[name="invoice_ids"]:checked').forEach(function (box) {
      var n = Number(box.getAttribute("data-amount"));
      if (isFinite(n)) total += n;
    });
    amount.value = total > 0 ? total.toFixed(2) : "";
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-promise-amount]")) event.target.dataset.touched = "1";
  });

  document.addEventListener("change", function (event) {
    if (event.target.name === "invoice_ids") {
      var form = event.target.closest("[data-action-form='promise']");
      if (form) promiseTotal(form);
    }
  });

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-action-cancel]");
    if (cancel && slotOf(cancel)) { event.preventDefault(); closeSlot(slotOf(cancel)); return; }
    var opener = event.target.closest && event.target.closest("[data-action]");
    if (opener) {
      // One form open at a time; the slot remembers which button opened it.
      document.querySelectorAll(".action-slot").forEach(function (slot) {
        if (slot.innerHTML.trim() && slot.id !== (opener.getAttribute("hx-target") || "").slice(1)) slot.innerHTML = "";
      });
      var target = document.querySelector(opener.getAttribute("hx-target"));
      if (target) target.setAttribute("data-opener", opener.getAttribute("data-action"));
      var row = opener.closest(".wl-row");
      if (row) setCurrent(row, false);
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.target;
    if (!target || !target.classList) return;
    if (target.classList.contains("action-slot")) {
      if (target.querySelector("form")) focusForm(target);
      return;
    }
    if (target.classList.contains("wl-row")) {
      setCurrent(target);
      return;
    }
    if (target.id === "collections-panel") {
      var button = target.querySelector('[data-action="call"]');
      if (button && (!document.activeElement || document.activeElement === document.body)) button.focus();
    }
  });

  // --- keys ---------------------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      // Ctrl+Enter sends an action's form from anywhere in it (Enter in a note is a new line).
      var form = event.target.closest && event.target.closest("[data-action-form]");
      if (form) { event.preventDefault(); form.requestSubmit(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      var slot = slotOf(event.target);
      if (slot && slot.innerHTML.trim()) { event.preventDefault(); closeSlot(slot); return; }
      var help = document.querySelector("[data-shortcuts][open]");
      if (help) { help.open = false; return; }
      return;
    }
    if (!worklist() || isTyping(event.target)) return;
    var row = current();
    switch (event.key) {
      case "j": case "ArrowDown": event.preventDefault(); move(1); break;
      case "k": case "ArrowUp": event.preventDefault(); move(-1); break;
      case "?": {
        var shortcuts = document.querySelector("[data-shortcuts]");
        if (shortcuts) {
          event.preventDefault();
          shortcuts.open = !shortcuts.open;
          if (shortcuts.open) shortcuts.querySelector("summary").focus();
        }
        break;
      }
      case "Enter":
        // Enter on a link or a button does its own thing; on a row it opens the customer.
        if (!row || event.target !== row) return;
        event.preventDefault(); press(row, "o");
        break;
      case "o": case "c": case "n": case "p": case "d": case "s":
        if (!row) return;
        event.preventDefault();
        setCurrent(row, false);
        press(row, event.key);
        break;
      default: return;
    }
  });

  document.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest("[data-collections-worklist] .wl-row");
    if (row && row.id !== currentId) setCurrent(row, false);
  });

  function start() {
    var list = rows();
    if (!list.length) return;
    var wanted = null;
    try { wanted = window.sessionStorage.getItem("arpilot-worklist-focus"); window.sessionStorage.removeItem("arpilot-worklist-focus"); } catch (e) { /* private mode */ }
    if (wanted === "last") setCurrent(list[list.length - 1]);
    else if (wanted === "first") setCurrent(list[0]);
    else setCurrent(list[0], false);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
