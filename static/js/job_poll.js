/* Job page: while a job is queued or running, its status, chunks, progress bar and estimate
 * follow the server every second; once it ends the page reloads to show the player or error. */
(function () {
  "use strict";
  var box = document.querySelector("#job[data-poll]");
  if (!box) return;
  var bar = document.getElementById("job-bar");
  // The server's estimate is made from the rate so far; count down from it until the next
  // chunk ends, instead of letting it grow with the time spent inside a chunk.
  var eta = { done: -1, left: null, at: 0 };
  function estimate(j) {
    if (j.terminal || j.estimate_seconds === null || j.estimate_seconds === undefined) return "";
    if (j.chunks_done !== eta.done) eta = { done: j.chunks_done, left: j.estimate_seconds, at: Date.now() };
    var left = Math.max(0, eta.left - (Date.now() - eta.at) / 1000);
    return left < 1 ? " · almost done" : " · about " + Math.round(left) + " s left";
  }
  var timer = setInterval(function () {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        document.getElementById("job-status").textContent = j.status_display;
        document.getElementById("job-progress").textContent = j.chunks_total ? j.chunks_done + "/" + j.chunks_total + " chunks" : "";
        document.getElementById("job-estimate").textContent = estimate(j);
        if (bar) bar.value = j.chunks_total ? j.chunks_done / j.chunks_total : (j.progress || 0);
        box.dataset.status = j.status;
        if (j.terminal) {
          clearInterval(timer);
          location.reload();
        }
      })
      .catch(function () {});
  }, 1000);
})();
