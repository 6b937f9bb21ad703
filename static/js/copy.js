/* <button data-copy-target="element-id"> copies that element's text. Uses the asynchronous
   clipboard API where the browser allows it, else selects the text and asks the browser to copy,
   and says "Copied" (or "Select and copy it yourself") in the polite status next to it. */
(function () {
  "use strict";

  function say(button, text) {
    var id = button.getAttribute("aria-describedby");
    var status = id && document.getElementById(id);
    if (status) status.textContent = text;
    button.textContent = text === "Copied" ? "Copied" : "Copy";
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function fallback(button, element) {
    selectText(element);
    var done = false;
    try {
      done = document.execCommand("copy");
    } catch (e) {
      done = false;
    }
    say(button, done ? "Copied" : "Selected: press Ctrl+C (⌘C) to copy");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var element = document.getElementById(button.dataset.copyTarget);
    if (!element) return;
    var text = element.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () {
          say(button, "Copied");
        },
        function () {
          fallback(button, element);
        }
      );
    } else {
      fallback(button, element);
    }
  });
})();
