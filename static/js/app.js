/* ARPilot clerk workspace: keyboard shortcuts of the review queue, the split editor, and a
   few form conveniences. Everything works without it (plain forms); this only speeds it up. */
(function () {
  "use strict";

  function isTyping(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  // Focus a field of content htmx just settled, unless the clerk is already typing in that
  // content: htmx settles a moment after the swap, and focus must not jump under their keys.
  function focusUnlessTyping(container, field) {
    var active = document.activeElement;
    if (!field || (isTyping(active) && container.contains(active))) return;
    field.focus();
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
    var wanted = index + step;
    if ((wanted >= list.length || wanted < 0) && nextPage(step)) return;
    setCurrent(list[Math.min(Math.max(wanted, 0), list.length - 1)]);
  }

  // After a or r did what it said, the next payment (not yet reviewed) takes focus.
  function advanceFrom(item) {
    var list = items();
    var index = list.indexOf(item);
    for (var i = index + 1; i < list.length; i++) {
      if (!list[i].classList.contains("is-reviewed")) { setCurrent(list[i]); return; }
    }
    if (index + 1 < list.length) setCurrent(list[index + 1]);
    else if (item) setCurrent(item);
  }

  function press(item, shortcut) {
    var button = item && item.querySelector('[data-shortcut="' + shortcut + '"]');
    if (!button) return false;
    button.click();
    return true;
  }

  // Esc in the split editor closes it (the clerk's rows stay); true when it did.
  function closeSearch(item, target) {
    var details = target.closest && target.closest("details[data-split]");
    if (!details || !details.open || !item.contains(details)) return false;
    details.open = false;
    return true;
  }

  // Past the last row, j goes to the next page (k before the first: the previous one).
  // Payments reviewed here have left the queue, so the next unseen one moved up by as many.
  function nextPage(step) {
    var link = document.querySelector('.pagination a[rel="' + (step > 0 ? "next" : "prev") + '"]');
    var queue = document.querySelector("[data-keyboard-queue]");
    if (!link || !queue) return false;
    var href = link.href;
    var focus = step > 0 ? "0" : "last";
    var size = Number(queue.getAttribute("data-page-size"));
    var number = Number(queue.getAttribute("data-page"));
    if (step > 0 && size && number) {
      var index = number * size - document.querySelectorAll("[data-keyboard-queue] .review-item.is-reviewed").length;
      var url = new URL(link.href, window.location.href);
      url.searchParams.set("page", String(Math.floor(index / size) + 1));
      href = url.toString();
      focus = String(index % size);
    }
    try { window.sessionStorage.setItem("arpilot-queue-focus", focus); } catch (e) { /* private mode */ }
    window.location.assign(href);
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
    if (event.key === "Escape") {
      var item = event.target.closest && event.target.closest(".review-item");
      if (item && closeSearch(item, event.target)) { event.preventDefault(); setCurrent(item); return; }
      if (item && isTyping(event.target)) { event.preventDefault(); setCurrent(item); }
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
      case "u": {
        var undo = document.querySelector("#toast.is-shown .toast-undo");
        if (undo) { event.preventDefault(); undo.click(); }
        break;
      }
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
      if (search && split.open) focusUnlessTyping(split, search);
      // What was typed (or pasted) into the search before htmx wired it up still searches.
      if (search && search.value.trim()) window.htmx.trigger(search, "search");
      return;
    }
    initSplits(document);
    var swapped = target && target.classList && target.classList.contains("review-item") ? target : null;
    var autofocus = swapped && swapped.querySelector("[data-autofocus]");
    if (autofocus) { setCurrent(swapped, false); autofocus.focus(); return; }
    var split = swapped && swapped.querySelector("details[data-split][open]");
    if (split) {
      // A refused split came back with the clerk's rows: keep working in it.
      setCurrent(swapped, false);
      var alert = swapped.querySelector(".ri-error");
      var first = split.querySelector("[data-split-amount]") || split.querySelector("[data-search-input]");
      focusUnlessTyping(swapped, first);
      if (alert) alert.scrollIntoView({ block: "nearest" });
      return;
    }
    if (pendingAdvance && swapped && pendingAdvance === swapped.id) {
      pendingAdvance = null;
      advanceFrom(swapped);
      return;
    }
    var item = currentId && document.getElementById(currentId);
    var active = document.activeElement;
    if (item && (!active || active === document.body || !document.contains(active))) {
      setCurrent(item);
    }
  });

  // --- what an action did: the toast, with Undo for a few seconds --------------------------
  var pendingAdvance = null;
  var toastTimer = null;
  var UNDO_SECONDS = 8;

  function csrfToken() {
    var input = document.querySelector('#row-actions input[name="csrfmiddlewaretoken"]') ||
      document.querySelector('input[name="csrfmiddlewaretoken"]');
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function showToast(message, level, undo) {
    var toast = document.getElementById("toast");
    if (!toast) return;
    clearTimeout(toastTimer);
    toast.textContent = "";
    toast.className = "toast toast-" + (level || "info") + " is-shown";
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    var text = document.createElement("span");
    text.className = "toast-text";
    text.textContent = message;
    toast.appendChild(text);
    if (undo && undo.url) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-small toast-undo";
      button.textContent = undo.label || "Undo";
      button.setAttribute("aria-keyshortcuts", "u");
      button.addEventListener("click", function () {
        var id = undo.target;
        hideToast();
        window.htmx.ajax("POST", undo.url, {
          target: id ? "#" + id : undefined, swap: "outerHTML",
          values: undo.values || {}, headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" }
        }).then(function () {
          var row = id && document.getElementById(id);
          if (row) setCurrent(row);
        });
      });
      toast.appendChild(button);
    }
    if (level === "error" && undo && undo.href) {
      var link = document.createElement("a");
      link.href = undo.href;
      link.className = "btn btn-small";
      link.textContent = undo.label;
      toast.appendChild(link);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn btn-small btn-ghost toast-close";
    close.setAttribute("aria-label", "Dismiss the message");
    close.textContent = "×";
    close.addEventListener("click", hideToast);
    toast.appendChild(close);
    if (level !== "error") toastTimer = setTimeout(hideToast, UNDO_SECONDS * 1000);
  }

  function hideToast() {
    var toast = document.getElementById("toast");
    if (!toast) return;
    clearTimeout(toastTimer);
    toast.className = "toast";
    toast.textContent = "";
  }

  function setUnreviewed(count) {
    document.querySelectorAll("[data-unreviewed-count]").forEach(function (el) {
      el.textContent = count + " unreviewed payment" + (count === 1 ? "" : "s");
    });
  }

  document.addEventListener("arpilot:toast", function (event) {
    var detail = event.detail || {};
    var row = event.target && event.target.closest && event.target.closest(".review-item");
    var rowId = row ? row.id : (event.detail && event.detail.elt && event.detail.elt.id);
    if (detail.undo && rowId) detail.undo.target = rowId;
    showToast(detail.message, detail.level, detail.undo);
    if (typeof detail.unreviewed === "number") setUnreviewed(detail.unreviewed);
    if (detail.advance && rowId) pendingAdvance = rowId;
  });

  // Failures are never silent: say what happened and what to do.
  function failureText(status) {
    if (status === 403) return ["Your session has expired or this page is out of date, so nothing was changed. Sign in again, then retry.", true];
    if (status === 401) return ["You are signed out, so nothing was changed. Sign in again, then retry.", true];
    if (status === 404) return ["That payment or invoice is no longer there. Reload the page to see the queue as it is now.", false];
    if (status === 409) return ["Someone else changed this payment meanwhile. Reload the page and try again.", false];
    if (status >= 500) return ["The server failed to do that (error " + status + "); nothing was changed. Reload the page and try again; tell your administrator if it keeps happening.", false];
    return ["That did not work (error " + status + "). Reload the page and try again.", false];
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var text = failureText(status);
    var signIn = text[1]
      ? { href: "/accounts/login/?next=" + encodeURIComponent(window.location.pathname + window.location.search), label: "Sign in again" }
      : { href: window.location.href, label: "Reload" };
    showToast(text[0], "error", signIn);
  });

  document.addEventListener("htmx:sendError", function () {
    showToast("Could not reach the server, so nothing was changed. Check the connection, then reload the page.", "error",
      { href: window.location.href, label: "Reload" });
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
    var amount = Math.min(left, Number(due));
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
    input.value = amount > 0.005 ? money(amount) : "";
    if (!(amount > 0.005)) input.placeholder = "0.00";
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

  // --- confirmations in place ---------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-confirm-cancel]");
    if (!cancel) return;
    var item = cancel.closest(".review-item");
    var box = cancel.closest(".sg-confirm");
    if (box) box.remove();
    if (item) setCurrent(item);
  });

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
    var list = items();
    var wanted = null;
    try { wanted = window.sessionStorage.getItem("arpilot-queue-focus"); window.sessionStorage.removeItem("arpilot-queue-focus"); } catch (e) { /* private mode */ }
    if (!list.length) return;
    if (wanted === "last") setCurrent(list[list.length - 1]);
    else if (wanted !== null && list[Number(wanted)]) setCurrent(list[Number(wanted)]);
    else setCurrent(list[0], false);
  });
})();
