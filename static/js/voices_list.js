/* Filter the voice list as you type (the search form also works without JavaScript: ?q=). */
(function () {
  "use strict";

  var input = document.querySelector("[data-voice-filter]");
  if (!input) return;
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-voice-row]"));
  var empty = document.querySelector("[data-voice-filter-empty]");

  function filter() {
    var wanted = input.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var match = !wanted || row.dataset.voiceName.indexOf(wanted) >= 0;
      row.hidden = !match;
      if (match) shown += 1;
    });
    if (empty) empty.hidden = shown > 0 || rows.length === 0;
  }

  input.addEventListener("input", filter);
})();
