/* The dunning policy editor: add, remove and move levels in place (the form's buttons do the
   same through the server without JavaScript; nothing here is needed to save). Moving a level
   numbers the levels by their order, as the server does. */
(function () {
  "use strict";

  function form() { return document.querySelector("[data-policy-form]"); }
  function list() { return document.querySelector("[data-levels]"); }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-levels] > [data-level-row]")); }

  function number(value) {
    var n = parseInt(value, 10);
    return isFinite(n) ? n : 0;
  }

  function setTitle(row) {
    var input = row.querySelector("[data-level-number]");
    var shown = input && input.value ? input.value : "?";
    var title = row.querySelector("[data-level-title]");
    if (title) title.textContent = shown;
    row.querySelectorAll("[data-level-move], [data-level-remove]").forEach(function (button) {
      var label = button.getAttribute("aria-label") || "";
      button.setAttribute("aria-label", label.replace(/level \S+/, "level " + shown));
    });
  }

  function renumber() {
    rows().forEach(function (row, index) {
      var input = row.querySelector("[data-level-number]");
      if (input) input.value = String(index + 1);
      setTitle(row);
    });
  }

  function emptyNote() {
    var note = document.querySelector("[data-no-levels]");
    if (note) note.hidden = rows().length > 0;
  }

  function addLevel() {
    var template = document.getElementById("level-template");
    if (!template || !list()) return false;
    var existing = rows();
    var key = existing.reduce(function (max, row) { return Math.max(max, number(row.getAttribute("data-key"))); }, -1) + 1;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__KEY__/g, String(key));
    var row = holder.querySelector("[data-level-row]");
    if (!row) return false;
    var levels = existing.map(function (r) { return number(r.querySelector("[data-level-number]").value); });
    var days = existing.map(function (r) { return number(r.querySelector("[data-level-days]").value); });
    var last = existing[existing.length - 1];
    if (last) {
      // The new level says what the last one says, until the clerk changes it.
      ["subject", "body_text", "body_html", "contact_escalation_levels"].forEach(function (name) {
        var from = last.querySelector('[name$="-' + name + '"]');
        var to = row.querySelector('[name$="-' + name + '"]');
        if (from && to) to.value = from.value;
      });
    }
    row.querySelector("[data-level-number]").value = String(Math.max.apply(null, levels.concat([0])) + 1);
    row.querySelector("[data-level-days]").value = String(existing.length ? Math.max.apply(null, days) + 14 : 3);
    row.classList.add("is-new");
    list().appendChild(row);
    setTitle(row);
    emptyNote();
    var focus = row.querySelector("[data-level-days]");
    row.scrollIntoView({ block: "nearest" });
    if (focus) focus.focus();
    return true;
  }

  function removeLevel(row) {
    var next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    emptyNote();
    var target = next ? next.querySelector("input:not([type=hidden])") : document.querySelector("[data-level-add]");
    if (target) target.focus();
  }

  function moveLevel(row, direction) {
    var other = direction === "up" ? row.previousElementSibling : row.nextElementSibling;
    if (!other) return;
    if (direction === "up") list().insertBefore(row, other);
    else list().insertBefore(other, row);
    renumber();
    var button = row.querySelector('[data-level-move="' + direction + '"]');
    if (button) button.focus();
  }

  document.addEventListener("click", function (event) {
    if (!form() || !event.target.closest) return;
    var button = event.target.closest("button");
    if (!button || !form().contains(button)) return;
    var row = button.closest("[data-level-row]");
    if (button.hasAttribute("data-level-add")) {
      if (addLevel()) event.preventDefault();
    } else if (button.hasAttribute("data-level-renumber")) {
      event.preventDefault();
      renumber();
    } else if (row && button.hasAttribute("data-level-remove")) {
      event.preventDefault();
      removeLevel(row);
    } else if (row && button.hasAttribute("data-level-move")) {
      event.preventDefault();
      moveLevel(row, button.getAttribute("data-level-move"));
    }
  });

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-level-number]")) {
      var row = target.closest("[data-level-row]");
      if (row) setTitle(row);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // After a preview or a refused save, show what the clerk is after.
    var alert = document.getElementById("policy-errors");
    var invalid = document.querySelector('[data-policy-form] [aria-invalid="true"]');
    if (alert && invalid) invalid.focus();
  });
})();
