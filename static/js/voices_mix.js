/* The mixing page: show each picked voice's share of the mix as the weights change. The server
 * checks everything again; this only helps people see what they are about to make. */
(function () {
  "use strict";

  var form = document.querySelector("[data-voice-mix]");
  if (!form) return;
  var rows = Array.prototype.slice.call(form.querySelectorAll("[data-mix-row]"));

  function weightOf(row) {
    var value = parseFloat(row.querySelector("[data-mix-weight]").value);
    return isFinite(value) && value > 0 ? value : 0;
  }

  function update() {
    var picked = rows.filter(function (row) { return row.querySelector("[data-mix-pick]").checked; });
    var total = picked.reduce(function (sum, row) { return sum + weightOf(row); }, 0);
    rows.forEach(function (row) {
      var share = row.querySelector("[data-mix-share]");
      var isPicked = picked.indexOf(row) >= 0;
      if (!isPicked) share.textContent = "–";
      else if (total > 0 && weightOf(row) > 0) share.textContent = Math.round(100 * weightOf(row) / total) + "%";
      else share.textContent = "needs a weight above 0";
    });
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
