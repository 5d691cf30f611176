// one-balance admin conveniences. Every action works without this script; it only adds:
//  - "select all" for the key checkboxes ([data-select-all] names the form the boxes belong to),
//  - copy buttons that fetch one key from the authenticated page route [data-copy-url] and put it on the clipboard
//    (the full key is never part of the page's HTML),
//  - confirmation prompts on destructive buttons ([data-confirm]).
// Values come only from data-* attributes (the CSP forbids inline scripts); nothing is written as HTML.
(function () {
  "use strict";

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  each("input[data-select-all]", function (box) {
    var form = box.getAttribute("data-select-all");
    var boxes = function () {
      return document.querySelectorAll('input[type="checkbox"][name="id"][form="' + form + '"]');
    };
    box.hidden = false;
    box.addEventListener("change", function () {
      Array.prototype.forEach.call(boxes(), function (b) { b.checked = box.checked; });
    });
  });

  function say(button, text) {
    var before = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", before);
    button.textContent = text;
    window.setTimeout(function () { button.textContent = before; }, 1500);
  }

  each("button[data-copy-url]", function (button) {
    if (!navigator.clipboard || !window.fetch) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      fetch(button.getAttribute("data-copy-url"), { credentials: "same-origin", cache: "no-store" })
        .then(function (res) {
          if (!res.ok) throw new Error("HTTP " + res.status);
          return res.text();
        })
        .then(function (key) { return navigator.clipboard.writeText(key); })
        .then(
          function () { say(button, button.getAttribute("data-done")); },
          function () { say(button, button.getAttribute("data-failed")); }
        );
    });
  });

  each("[data-confirm]", function (el) {
    el.addEventListener("click", function (event) {
      if (!window.confirm(el.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
