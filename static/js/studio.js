/* The Speak page as a studio: live character count and cost, voice search, languages of the
 * chosen voice, text files, and Generate in place (streamed playback for short mp3 texts, a
 * job with live progress and Cancel otherwise), then a waveform player and a download.
 *
 * Without this script the form still works: it posts, creates the job and opens its page.
 */
(function () {
  "use strict";
  var form = document.getElementById("studio");
  var dataNode = document.getElementById("studio-data");
  if (!form || !dataNode) return;
  var studio = JSON.parse(dataNode.textContent);
  var $ = function (id) { return document.getElementById(id); };
  var text = form.querySelector("[name=text]");
  var voice = form.querySelector("[name=voice]");
  var language = form.querySelector("[name=language]");
  var model = form.querySelector("[name=model]");
  var format = form.querySelector("[name=output_format]");
  var speed = form.querySelector("[name=speed]");
  var search = $("voice-search");
  var generate = $("generate");
  var why = $("generate-why");
  var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  var voices = {};
  studio.voices.forEach(function (v) { voices[v.code] = v; });
  var state = { cost: null, remaining: studio.remaining, busy: false, poll: null, job: null, abort: null };
  var MAX_FILE_BYTES = 1024 * 1024;

  form.querySelectorAll(".studio-js-only").forEach(function (el) { el.hidden = false; });

  // --- voice, language, engine, advanced parameters -------------------------------------
  function chosenVoice() { return voices[voice.value] || null; }

  // The engine that speaks: the Model picker's choice among the voice's engines (default first).
  function chosenEngine() {
    var v = chosenVoice();
    if (!v || !v.engines.length) return null;
    return v.engines.filter(function (e) { return e.name === model.value; })[0] || v.engines[0];
  }

  function showVoice() {
    var v = chosenVoice();
    var keep = model.value;
    model.innerHTML = "";
    (v ? v.engines : []).forEach(function (entry) {
      var option = document.createElement("option");
      option.value = entry.name;
      option.textContent = entry.label;
      model.appendChild(option);
    });
    if (v && v.engines.some(function (e) { return e.name === keep; })) model.value = keep;
    model.disabled = !v;
    showModel();
  }

  function showModel() {
    var v = chosenVoice();
    var engine = chosenEngine();
    var keep = language.value;
    language.innerHTML = "";
    (engine ? engine.languages : []).forEach(function (entry) {
      var option = document.createElement("option");
      option.value = entry.code;
      option.textContent = entry.name;
      language.appendChild(option);
    });
    if (engine && engine.languages.some(function (e) { return e.code === keep; })) language.value = keep;
    language.disabled = !engine;
    $("voice-engine").textContent = engine ? engine.title : "—";
    $("model-licence").textContent = engine ? "Licence: " + engine.licence : "";
    $("voice-facts").textContent = v
      ? "Speaks " + ((engine ? engine.languages : []).map(function (e) { return e.name; }).join(", ") || "its own language") +
        " · " + (engine ? engine.title : v.engine_label) + (v.stock ? " · stock voice" : "") + (v.blocked ? " · blocked by an administrator" : "")
      : "";
    form.querySelectorAll("fieldset[data-engine]").forEach(function (set) {
      var mine = engine && set.dataset.engine === engine.name;
      set.hidden = !mine;
      set.disabled = !mine;
    });
    refresh();
  }

  function filterVoices() {
    var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var firstVisible = null;
    Array.prototype.forEach.call(voice.options, function (option) {
      var hay = (option.textContent || "").toLowerCase();
      var match = words.every(function (w) { return hay.indexOf(w) !== -1; });
      option.hidden = !match;
      option.disabled = !match;
      if (match && firstVisible === null) firstVisible = option;
    });
    var selected = voice.options[voice.selectedIndex];
    if ((!selected || selected.hidden) && firstVisible) voice.value = firstVisible.value;
    $("voice-facts").textContent = firstVisible ? "" : "No voice matches \u201c" + search.value + "\u201d.";
    if (firstVisible) showVoice(); else refresh();
  }

  // --- characters, cost, and why Generate is off ------------------------------------------
  function reason() {
    var v = chosenVoice();
    var visible = Array.prototype.some.call(voice.options, function (o) { return !o.hidden && o.selected; });
    if (!v || !visible) return "Choose a voice first.";
    if (v.blocked) return "This voice is blocked by an administrator.";
    if (!text.value.trim()) return "Type or load some text first.";
    var count = state.cost === null ? text.value.length : state.cost;
    if (count > studio.maxCharacters) return "The text is longer than " + studio.maxCharacters.toLocaleString() + " characters.";
    if (state.remaining !== null && count > state.remaining) {
      return "Over your quota: " + count.toLocaleString() + " characters, " + state.remaining.toLocaleString() + " left this month.";
    }
    if (state.busy) return "Generating…";
    return "";
  }

  function refresh() {
    var count = state.cost === null ? text.value.length : state.cost;
    $("char-count").textContent = count.toLocaleString() + (count === 1 ? " character" : " characters");
    $("char-cost").textContent = state.remaining === null
      ? "Costs " + count.toLocaleString() + " characters (no monthly limit)"
      : "Costs " + count.toLocaleString() + " of " + state.remaining.toLocaleString() + " characters left this month";
    var r = reason();
    generate.disabled = Boolean(r);
    why.hidden = !r || state.busy;
    why.textContent = r;
  }

  var costTimer = null;
  function costSoon() {
    state.cost = null;  // the raw length until the server has counted as the quota does
    refresh();
    clearTimeout(costTimer);
    costTimer = setTimeout(function () {
      var body = new URLSearchParams({ text: text.value });
      fetch(form.dataset.costUrl, { method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (!j) return;
          state.cost = j.characters;
          state.remaining = j.remaining;
          refresh();
        })
        .catch(function () {});
    }, 300);
  }

  // --- text files ---------------------------------------------------------------------------
  $("text-file").addEventListener("change", function (event) {
    var file = event.target.files[0];
    var status = $("file-status");
    if (!file) return;
    if (!/\.(txt|md|markdown)$/i.test(file.name)) {
      status.textContent = "Only .txt and .md files can be loaded.";
      return;
    }
    if (file.size > MAX_FILE_BYTES) {
      status.textContent = file.name + " is larger than 1 MB.";
      return;
    }
    var reader = new FileReader();
    reader.onload = function () {
      text.value = String(reader.result);
      status.textContent = "Loaded " + file.name + ".";
      costSoon();
    };
    reader.onerror = function () { status.textContent = "Could not read " + file.name + "."; };
    reader.readAsText(file);
  });

  // --- generating -----------------------------------------------------------------------------
  var result = $("result");
  var audio = $("result-audio");

  function say(status, detail) {
    result.hidden = false;
    $("result-status").textContent = status;
    $("result-detail").textContent = detail || "";
  }

  function showError(message) {
    var box = $("result-error");
    box.textContent = message;
    box.hidden = !message;
  }

  function parameters() {
    var params = { speed: parseFloat(speed.value) || 1 };
    form.querySelectorAll("fieldset[data-engine]:not([disabled]) [data-param]").forEach(function (input) {
      if (input.value === "") return;
      params[input.dataset.param] = input.dataset.kind === "int" ? parseInt(input.value, 10) : parseFloat(input.value);
    });
    return params;
  }

  function canStream() {
    return text.value.length <= studio.streamCharacters && format.value === "mp3" &&
      window.MediaSource && MediaSource.isTypeSupported("audio/mpeg");
  }

  function begin() {
    state.busy = true;
    refresh();
    showError("");
    $("result-player").hidden = true;
    $("result-progress").value = 0;
    $("result-cancel").hidden = false;
    $("result-cancel").disabled = false;
    $("result-job-link").hidden = true;
    say("Starting", "");
  }

  function finish() {
    state.busy = false;
    state.abort = null;
    $("result-cancel").hidden = true;
    clearInterval(state.poll);
    state.poll = null;
    refresh();
  }

  // The server's estimate is made when a chunk ends (rate so far); count down from it until
  // the next chunk ends, instead of letting it grow with the time spent inside a chunk.
  var eta = { done: -1, left: null, at: 0 };
  function countdown(job) {
    if (job.terminal || job.estimate_seconds === null || job.estimate_seconds === undefined) return null;
    if (job.chunks_done !== eta.done) eta = { done: job.chunks_done, left: job.estimate_seconds, at: Date.now() };
    return Math.max(0, eta.left - (Date.now() - eta.at) / 1000);
  }

  function describe(job) {
    var parts = [];
    if (job.chunks_total) parts.push(job.chunks_done + "/" + job.chunks_total + " chunks");
    var left = countdown(job);
    if (left !== null) parts.push(left < 1 ? "almost done" : "about " + Math.round(left) + " s left");
    if (job.cancel_requested && !job.terminal) parts.push("stopping after the current chunk");
    return parts.join(" · ");
  }

  function follow(code, url, onDone) {
    state.job = { code: code, url: url };
    var link = $("result-job-link");
    link.href = url;
    link.hidden = false;
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          say(job.status_display, describe(job));
          $("result-progress").value = job.chunks_total ? job.chunks_done / job.chunks_total : (job.progress || 0);
          if (!job.terminal) return;
          clearInterval(state.poll);
          state.poll = null;
          if (job.status === "succeeded") {
            $("result-progress").value = 1;
            onDone(job);
          } else {
            showError(job.error || (job.status === "cancelled" ? "" : "The job did not finish."));
          }
          finish();
        })
        .catch(function () {});
    };
    clearInterval(state.poll);
    state.poll = setInterval(tick, 1000);
    tick();
  }

  function showPlayer(job, keepPlaying) {
    var player = $("result-player");
    player.hidden = false;
    $("result-download").href = job.download_url;
    var at = audio.currentTime || 0;
    var playing = keepPlaying && !audio.paused && !audio.ended;
    audio.src = job.audio_url;  // the stored file: served with Range, so it seeks
    audio.dataset.src = job.audio_url;
    if (at && playing) {
      audio.addEventListener("loadedmetadata", function resume() {
        audio.removeEventListener("loadedmetadata", resume);
        audio.currentTime = at;
        audio.play().catch(function () {});
      });
    }
    window.TimbreWaveform.attach($("result-waveform"), audio, job.audio_url).catch(function (e) {
      showError(e.message);
    });
  }

  function createJob() {
    say("Queued", "");
    var body = new FormData(form);
    fetch(form.action || window.location.pathname, { method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (answer) {
        if (!answer.ok) throw new Error(answer.body.error ? answer.body.error.message : "The job could not be created.");
        follow(answer.body.code, answer.body.url, function (job) { showPlayer(job, false); });
      })
      .catch(function (e) { showError(e.message); say("Not started", ""); finish(); });
  }

  function streamJob() {
    say("Streaming", "the audio starts as soon as the first sentence is ready");
    var controller = new AbortController();
    state.abort = controller;
    var payload = { text: text.value, voice: voice.value, format: "mp3", parameters: parameters() };
    if (chosenEngine()) payload.model = chosenEngine().model_id;
    if (language.value) payload.language = language.value;
    fetch(form.dataset.streamUrl, { method: "POST", body: JSON.stringify(payload), credentials: "same-origin",
      signal: controller.signal,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "audio/mpeg" } })
      .then(function (response) {
        if (!response.ok) {
          return response.json().then(function (j) {
            throw new Error(j.error ? j.error.message : "Streaming failed (" + response.status + ").");
          });
        }
        var code = response.headers.get("X-Synthesis-Job");
        // The job's own status (polled) decides the outcome; the stream only feeds the player.
        var streamed = playStream(response.body.getReader()).catch(function () {});
        follow(code, "/jobs/" + code + "/", function (job) {
          streamed.then(function () { showPlayer(job, true); });
        });
      })
      .catch(function (e) {
        if (e.name === "AbortError") return;
        showError(e.message);
        say("Failed", "");
        finish();
      });
  }

  // Feed the streamed mp3 into a MediaSource so that playback starts with the first bytes.
  function playStream(reader) {
    var source = new MediaSource();
    audio.src = URL.createObjectURL(source);
    $("result-player").hidden = false;
    return new Promise(function (resolve, reject) {
      source.addEventListener("sourceopen", function () {
        var buffer = source.addSourceBuffer("audio/mpeg");
        var started = false;
        var pump = function () {
          reader.read().then(function (step) {
            if (source.readyState !== "open") {  // the player moved on (cancelled, replaced)
              reader.cancel().catch(function () {});
              resolve();
              return;
            }
            if (step.done) {
              source.endOfStream();
              resolve();
              return;
            }
            buffer.addEventListener("updateend", function next() {
              buffer.removeEventListener("updateend", next);
              if (!started) {
                started = true;
                audio.dataset.streamed = "true";
                audio.play().catch(function () {});
              }
              pump();
            });
            buffer.appendBuffer(step.value);
          }).catch(reject);
        };
        pump();
      }, { once: true });
    });
  }

  $("result-cancel").addEventListener("click", function () {
    var button = this;
    button.disabled = true;
    if (state.abort) state.abort.abort();  // closing the stream cancels its job
    if (!state.job) return;
    fetch(state.job.url.replace(/\/$/, "/cancel"), { method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (job) { if (job.status_display) say(job.status_display, describe(job)); })
      .catch(function () {});
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (reason()) return refresh();
    begin();
    if (canStream()) streamJob(); else createJob();
  });

  text.addEventListener("input", costSoon);
  voice.addEventListener("change", showVoice);
  model.addEventListener("change", showModel);
  search.addEventListener("input", filterVoices);
  showVoice();
  if (text.value) costSoon();
})();
