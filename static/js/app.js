/* ARPilot clerk workspace: keyboard shortcuts of the review queue, the split editor, and a
   few form conveniences. Everything works without it (plain forms); this only speeds it up. */
(function () {
  "use strict";

  function isTyping(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  // --- review queue: j/k move, a apply, r reviewed, / search ------------------------------
  var currentId = null;

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-keyboard-queue] .review-item"));
  }

  function setCurrent(item, focus) {
    items().forEach(function (el) { el.classList.remove("is-current"); });
    if (!item) return;
    item.classList.add("is-current");
    currentId = item.id;
    if (focus !== false) {
      item.focus({ preventScroll: true });
      item.scrollIntoView({ block: "nearest" });
    }
  }

  function current() {
    var item = currentId && document.getElementById(currentId);
    if (item) return item;
    var list = items();
    return list.length ? list[0] : null;
  }

  function move(step) {
    var list = items();
    if (!list.length) return;
    var index = list.indexOf(current());
    var next = list[Math.min(Math.max(index + step, 0), list.length - 1)];
    setCurrent(next);
  }

  function press(item, shortcut) {
    var button = item && item.querySelector('[data-shortcut="' + shortcut + '"]');
    if (!button) return false;
    button.click();
    return true;
  }

  function openSearch(item) {
    var details = item && item.querySelector("details[data-split]");
    if (!details) return;
    details.open = true;
    var input = details.querySelector("[data-search-input]");
    if (input) input.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!document.querySelector("[data-keyboard-queue]")) return;
    if (event.key === "Escape" && isTyping(event.target)) {
      var item = event.target.closest(".review-item");
      if (item) { event.preventDefault(); setCurrent(item); }
      return;
    }
    if (isTyping(event.target)) return;
    var row = current();
    switch (event.key) {
      case "j":
        event.preventDefault();
        if (row && !row.contains(document.activeElement)) setCurrent(row); else move(1);
        break;
      case "k": event.preventDefault(); move(-1); break;
      case "a": if (row) { event.preventDefault(); setCurrent(row); press(row, "apply"); } break;
      case "r": if (row) { event.preventDefault(); setCurrent(row); press(row, "review"); } break;
      case "/": if (row) { event.preventDefault(); setCurrent(row, false); openSearch(row); } break;
      default: return;
    }
  });

  document.addEventListener("focusin", function (event) {
    var item = event.target.closest && event.target.closest("[data-keyboard-queue] .review-item");
    if (item && item.id !== currentId) setCurrent(item, false);
  });

  // After htmx swaps a row in place, keep it current and focused.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.target;
    var split = target && target.closest && target.closest("details[data-split]");
    if (split && target.classList.contains("split-body")) {
      // The split editor just loaded (the clerk opened it): total and search focus.
      updateTotal(split);
      var search = split.querySelector("[data-search-input]");
      if (search && split.open) search.focus();
      return;
    }
    var item = currentId && document.getElementById(currentId);
    var active = document.activeElement;
    if (item && (!active || active === document.body || !document.contains(active))) {
      setCurrent(item);
    }
    initSplits(document);
  });

  // --- split editor -------------------------------------------------------------------------
  function money(value) {
    var n = Number(value);
    return isFinite(n) ? n.toFixed(2) : "0.00";
  }

  function updateTotal(details) {
    var total = 0;
    details.querySelectorAll("[data-split-amount]").forEach(function (input) {
      var n = Number(String(input.value).replace(/,/g, ""));
      if (isFinite(n)) total += n;
    });
    var amount = Number(details.getAttribute("data-payment-amount"));
    var out = details.querySelector("[data-split-total]");
    if (out) {
      var left = amount - total;
      out.textContent = "Allocated " + money(total) + " of " + money(amount) +
        (Math.abs(left) < 0.005 ? " — all of it." : left > 0 ? "; " + money(left) + " left." : "; " + money(-left) + " too much.");
      out.classList.toggle("over", left < -0.005);
    }
    return amount - total;
  }

  function addRow(details, id, number, due) {
    var rows = details.querySelector("[data-split-rows]");
    if (!rows || rows.querySelector('input[name="invoice_id"][value="' + id + '"]')) return;
    var left = Math.max(updateTotal(details), 0);
    var amount = Math.min(left, Number(due)) || Number(due);
    var payment = details.closest(".review-item").getAttribute("data-payment");
    var inputId = "amt-" + payment + "-" + id;
    var tr = document.createElement("tr");
    tr.innerHTML =
      '<td></td><td class="num"><label class="sr-only"></label><input class="amount" name="amount" inputmode="decimal" data-split-amount></td>' +
      '<td><button type="button" class="btn btn-small btn-ghost" data-split-remove>×</button></td>';
    tr.cells[0].textContent = number;
    var hidden = document.createElement("input");
    hidden.type = "hidden"; hidden.name = "invoice_id"; hidden.value = id;
    tr.cells[0].appendChild(hidden);
    var label = tr.querySelector("label");
    label.textContent = "Amount for " + number;
    label.htmlFor = inputId;
    var input = tr.querySelector("input.amount");
    input.id = inputId;
    input.value = money(amount);
    tr.querySelector("[data-split-remove]").setAttribute("aria-label", "Remove " + number);
    rows.appendChild(tr);
    updateTotal(details);
    input.focus();
    input.select();
  }

  function initSplits(root) {
    root.querySelectorAll("details[data-split]").forEach(function (details) {
      if (details.dataset.ready) return;
      details.dataset.ready = "1";
      updateTotal(details);
      details.addEventListener("input", function (event) {
        if (event.target.matches("[data-split-amount]")) updateTotal(details);
      });
      details.addEventListener("click", function (event) {
        var add = event.target.closest("[data-split-add]");
        if (add) {
          event.preventDefault();
          addRow(details, add.dataset.invoiceId, add.dataset.invoiceNumber, add.dataset.amountDue);
          return;
        }
        var remove = event.target.closest("[data-split-remove]");
        if (remove) {
          event.preventDefault();
          remove.closest("tr").remove();
          updateTotal(details);
        }
      });
      details.addEventListener("toggle", function () {
        if (details.open) {
          var input = details.querySelector("[data-search-input]");
          if (input && document.activeElement !== input) input.focus();
        }
      });
    });
  }

  // --- small conveniences -------------------------------------------------------------------
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("select[data-autosubmit]")) target.form.submit();
    if (target.matches("[data-check-all]")) {
      var name = target.getAttribute("data-check-all");
      target.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
        box.checked = target.checked;
      });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    initSplits(document);
    var first = items()[0];
    if (first) setCurrent(first, false);
  });
})();
