/* Job page: show progress while a job is queued or running; reload when it changes state. */
(function () {
  "use strict";
  var box = document.querySelector("#job[data-poll]");
  if (!box) return;
  var timer = setInterval(async function () {
    var r = await fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    var j = await r.json();
    document.getElementById("job-progress").textContent = j.chunks_total ? j.chunks_done + "/" + j.chunks_total + " chunks" : "";
    if (j.status !== box.dataset.status && ["queued", "running"].indexOf(j.status) === -1) {
      clearInterval(timer);
      location.reload();
    }
  }, 1000);
})();
