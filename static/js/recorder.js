/* In-browser recording of a voice sample or consent statement (MediaRecorder, WebM/Opus).
 *
 * Every element with [data-recorder] becomes a recorder: Record → Stop → listen → Record again or
 * Upload. The upload goes to the element's data-upload-url (a JSON API endpoint taking a
 * multipart "file"); the sample then goes through the same intake as any upload, and the
 * recorder polls it and shows the quality report or why it was not accepted.
 * Events (bubbling): "recorder:uploaded" {detail: API answer}, "recorder:done" {detail: sample}.
 */
(function () {
  "use strict";

  var MIME_TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
  var FINISHED = ["ready", "rejected"];

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function pickMimeType() {
    if (!window.MediaRecorder || !MediaRecorder.isTypeSupported) return "";
    for (var i = 0; i < MIME_TYPES.length; i++) {
      if (MediaRecorder.isTypeSupported(MIME_TYPES[i])) return MIME_TYPES[i];
    }
    return "";
  }

  function extensionFor(mime) {
    if (mime.indexOf("ogg") >= 0) return "ogg";
    if (mime.indexOf("mp4") >= 0) return "m4a";
    return "webm";
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function fmt(value, digits, unit) {
    return value === null || value === undefined ? "–" : value.toFixed(digits) + unit;
  }

  /** The quality report (or the refusal) of a sample from the API, as DOM nodes. */
  function renderSample(sample) {
    var box = el("div", undefined, "report");
    box.setAttribute("data-testid", "recorder-report");
    if (sample.status === "rejected") {
      var refusal = el("p", "Not accepted: " + sample.error.message, "error-text");
      refusal.setAttribute("data-testid", "recorder-error");
      box.appendChild(refusal);
      box.appendChild(el("p", "Record again when you are ready."));
      return box;
    }
    var report = sample.report || {};
    var rows = [
      ["Speech", fmt(report.speech_seconds, 1, " s") + " of " + fmt(report.duration_seconds, 1, " s")],
      ["Loudness", fmt(report.loudness_lufs, 1, " LUFS")],
      ["Background noise", fmt(report.snr_db, 0, " dB below speech")],
      ["Clipping", fmt((report.clipping_ratio || 0) * 100, 1, "%")],
    ];
    var list = el("dl");
    rows.forEach(function (row) {
      list.appendChild(el("dt", row[0]));
      list.appendChild(el("dd", row[1]));
    });
    box.appendChild(el("p", report.ok ? "Accepted: good quality." : "Accepted, with advice:"));
    box.appendChild(list);
    if (report.advice && report.advice.length) {
      var advice = el("ul", undefined, "advice");
      report.advice.forEach(function (line) { advice.appendChild(el("li", line)); });
      box.appendChild(advice);
    }
    return box;
  }

  function Recorder(root) {
    this.root = root;
    this.buttons = {
      record: root.querySelector("[data-record]"),
      stop: root.querySelector("[data-stop]"),
      upload: root.querySelector("[data-upload]"),
    };
    this.level = root.querySelector("[data-level]");
    this.timer = root.querySelector("[data-timer]");
    this.preview = root.querySelector("[data-preview]");
    this.result = root.querySelector("[data-result]");
    this.blob = null;
    this.mime = pickMimeType();
    this.buttons.record.addEventListener("click", this.start.bind(this));
    this.buttons.stop.addEventListener("click", this.stop.bind(this));
    this.buttons.upload.addEventListener("click", this.upload.bind(this));
    if (!window.MediaRecorder || !navigator.mediaDevices) {
      this.setButtons(false, false, false);
      var why = root.querySelector("[data-recorder-why]");
      if (why) { why.textContent = "This browser cannot record audio; upload a file instead."; why.hidden = false; }
      this.say("This browser cannot record audio; upload a file instead.", true);
    }
  }

  Recorder.prototype.say = function (text, isError) {
    this.result.replaceChildren(el("p", text, isError ? "error-text" : ""));
  };

  // Why some buttons are disabled, for each combination the recorder goes through.
  var WHY = {
    "false,true,false": "Recording… press Stop when you are done.",
    "true,false,true": "",
    "false,false,false": "Uploading and checking the audio…",
    "true,false,false": "Record again to make a new take.",
  };

  Recorder.prototype.setButtons = function (record, stop, upload) {
    this.buttons.record.disabled = !record;
    this.buttons.stop.disabled = !stop;
    this.buttons.upload.disabled = !upload;
    var why = this.root.querySelector("[data-recorder-why]");
    if (why) {
      var text = WHY[[record, stop, upload].join(",")] || "";
      why.textContent = text;
      why.hidden = text === "";
    }
  };

  Recorder.prototype.start = async function () {
    try {
      // Raw microphone audio: browser noise suppression and gain riding change the voice.
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      this.say("No microphone: " + err.message + ". Allow microphone access and try again.", true);
      return;
    }
    this.blob = null;
    this.preview.hidden = true;
    this.result.replaceChildren();
    this.chunks = [];
    this.recorder = new MediaRecorder(this.stream, this.mime ? { mimeType: this.mime } : undefined);
    this.recorder.addEventListener("dataavailable", (event) => {
      if (event.data && event.data.size) this.chunks.push(event.data);
    });
    this.recorder.addEventListener("stop", this.finish.bind(this));
    this.recorder.start(250);
    this.startMeter();
    this.started = performance.now();
    this.tick = setInterval(() => {
      this.timer.textContent = ((performance.now() - this.started) / 1000).toFixed(1) + " s";
    }, 100);
    this.setButtons(false, true, false);
    this.root.dataset.state = "recording";
  };

  Recorder.prototype.startMeter = function () {
    var AudioCtx = window.AudioContext || window.webkitAudioContext;
    if (!AudioCtx) return;
    this.audio = new AudioCtx();
    var analyser = this.audio.createAnalyser();
    analyser.fftSize = 2048;
    this.audio.createMediaStreamSource(this.stream).connect(analyser);
    var data = new Float32Array(analyser.fftSize);
    var draw = () => {
      if (!this.audio) return;
      analyser.getFloatTimeDomainData(data);
      var sum = 0;
      for (var i = 0; i < data.length; i++) sum += data[i] * data[i];
      var db = 10 * Math.log10(sum / data.length + 1e-12);  // -120 (silence) .. 0 dBFS
      this.level.style.width = Math.max(0, Math.min(100, (db + 60) * (100 / 60))) + "%";
      requestAnimationFrame(draw);
    };
    draw();
  };

  Recorder.prototype.stop = function () {
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
    clearInterval(this.tick);
    this.stream.getTracks().forEach(function (track) { track.stop(); });
    if (this.audio) { this.audio.close(); this.audio = null; }
    this.level.style.width = "0";
  };

  Recorder.prototype.finish = function () {
    this.blob = new Blob(this.chunks, { type: this.recorder.mimeType || this.mime || "audio/webm" });
    this.preview.src = URL.createObjectURL(this.blob);
    this.preview.hidden = false;
    this.buttons.record.textContent = "Record again";
    this.setButtons(true, false, true);
    this.root.dataset.state = "recorded";
  };

  Recorder.prototype.upload = async function () {
    var url = this.root.dataset.uploadUrl;
    if (!this.blob || !url) return;
    this.setButtons(false, false, false);
    this.say("Uploading…");
    var form = new FormData();
    form.append("file", this.blob, "recording." + extensionFor(this.blob.type));
    var answer, body;
    try {
      answer = await fetch(url, {
        method: "POST", body: form, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      });
      body = await answer.json();
    } catch (err) {
      this.say("The upload failed: " + err.message, true);
      this.setButtons(true, false, true);
      return;
    }
    if (!answer.ok) {
      this.say(body.error ? body.error.message : "The upload failed (" + answer.status + ").", true);
      this.setButtons(true, false, true);
      return;
    }
    this.root.dispatchEvent(new CustomEvent("recorder:uploaded", { detail: body, bubbles: true }));
    this.say("Uploaded. Checking the audio…");
    this.root.dataset.state = "processing";
    var sampleId = body.recording ? body.recording.id : body.id;
    this.poll(sampleId);
  };

  Recorder.prototype.poll = async function (sampleId) {
    var sample = null;
    while (!sample || FINISHED.indexOf(sample.status) < 0) {
      await new Promise(function (resolve) { setTimeout(resolve, 1000); });
      var answer = await fetch("/api/v1/samples/" + sampleId, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!answer.ok) { this.say("Could not check the sample (" + answer.status + ").", true); return; }
      sample = await answer.json();
    }
    this.result.replaceChildren(await this.report(sample));
    this.root.dataset.state = sample.status;
    this.setButtons(true, false, false);
    this.root.dispatchEvent(new CustomEvent("recorder:done", { detail: sample, bubbles: true }));
  };

  /** The sample's report as its pages word it (voices/_report.html, served as a fragment), so
   * a recording reads the same here as on the sample and voice pages; the JSON rendering is
   * only the fallback when the fragment cannot be fetched. */
  Recorder.prototype.report = async function (sample) {
    try {
      var answer = await fetch("/voices/samples/" + sample.id + "/report", {
        credentials: "same-origin", headers: { Accept: "text/html" },
      });
      if (!answer.ok) throw new Error(String(answer.status));
      var box = el("div", undefined, "report-box");
      box.setAttribute("data-testid", sample.status === "rejected" ? "recorder-error" : "recorder-report");
      box.innerHTML = await answer.text();  // server-rendered and escaped by Django
      if (sample.status === "rejected") box.appendChild(el("p", "Record again when you are ready."));
      return box;
    } catch (err) {
      return renderSample(sample);
    }
  };

  window.TimbreRecorder = { Recorder: Recorder, renderSample: renderSample, csrfToken: csrfToken };
  document.querySelectorAll("[data-recorder]").forEach(function (root) {
    root.timbreRecorder = new Recorder(root);
  });
})();
