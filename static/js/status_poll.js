/* Reload the page when a voice stops building or a sample finishes intake. */
(function () {
  "use strict";

  function watch(url, isSettled) {
    var check = async function () {
      try {
        var answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (answer.ok && isSettled(await answer.json())) { window.location.reload(); return; }
      } catch (err) { /* offline for a moment: try again */ }
      setTimeout(check, 2000);
    };
    setTimeout(check, 2000);
  }

  document.querySelectorAll("[data-poll-voice]").forEach(function (node) {
    var status = node.dataset.pollStatus || "building";
    watch("/api/v1/voices/" + node.dataset.pollVoice, function (voice) { return voice.status !== status; });
  });
  document.querySelectorAll("[data-poll-sample]").forEach(function (node) {
    watch("/api/v1/samples/" + node.dataset.pollSample, function (sample) {
      return sample.status === "ready" || sample.status === "rejected";
    });
  });
})();
