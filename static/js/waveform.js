/* A waveform seek bar drawn on a <canvas> for an <audio> element.
 *
 * Our own instead of wavesurfer.js: its v7 injects a <style> element into a shadow root, which
 * the page's Content-Security-Policy (style-src 'self') blocks. This draws peaks of the decoded
 * audio (decodeAudioData of the same URL the player uses), shows the playhead, and seeks the
 * <audio> element on click or with the arrow keys (Left/Right 5 s, Home/End).
 *
 * TimbreWaveform.attach(canvas, audio, url) -> Promise; canvases with data-waveform-src and
 * data-waveform-audio="<id of the audio element>" are attached on load.
 */
(function () {
  "use strict";

  function themeColour(element, name, fallback) {
    var value = getComputedStyle(element).getPropertyValue(name).trim();
    return value || fallback;
  }

  function peaksOf(buffer, columns) {
    var data = buffer.getChannelData(0);
    var step = Math.max(1, Math.floor(data.length / columns));
    var peaks = new Float32Array(columns);
    var top = 0;
    for (var c = 0; c < columns; c++) {
      var peak = 0;
      var end = Math.min(data.length, (c + 1) * step);
      for (var i = c * step; i < end; i++) {
        var v = Math.abs(data[i]);
        if (v > peak) peak = v;
      }
      peaks[c] = peak;
      if (peak > top) top = peak;
    }
    if (top > 0) for (var k = 0; k < columns; k++) peaks[k] = peaks[k] / top;
    return peaks;
  }

  function decode(arrayBuffer) {
    var Offline = window.OfflineAudioContext || window.webkitOfflineAudioContext;
    var context = Offline ? new Offline(1, 1, 44100) : new (window.AudioContext || window.webkitAudioContext)();
    return new Promise(function (resolve, reject) {
      var promise = context.decodeAudioData(arrayBuffer, resolve, reject);
      if (promise && promise.then) promise.then(resolve, reject);
    });
  }

  function Waveform(canvas, audio) {
    this.canvas = canvas;
    this.audio = audio;
    this.peaks = null;
    this.duration = 0;
    var self = this;
    canvas.addEventListener("click", function (event) {
      var box = canvas.getBoundingClientRect();
      self.seekTo(((event.clientX - box.left) / box.width) * self.length());
    });
    canvas.addEventListener("keydown", function (event) {
      var now = audio.currentTime || 0;
      var moves = { ArrowLeft: now - 5, ArrowRight: now + 5, ArrowDown: now - 5, ArrowUp: now + 5, Home: 0, End: self.length() };
      if (event.key in moves) {
        event.preventDefault();
        self.seekTo(moves[event.key]);
      } else if (event.key === " " || event.key === "Enter") {
        event.preventDefault();
        if (audio.paused) audio.play(); else audio.pause();
      }
    });
    ["timeupdate", "seeked", "loadedmetadata", "play", "pause"].forEach(function (name) {
      audio.addEventListener(name, function () { self.draw(); });
    });
    window.addEventListener("resize", function () { self.draw(); });
  }

  Waveform.prototype.length = function () {
    var d = this.audio.duration;
    return isFinite(d) && d > 0 ? d : this.duration;
  };

  Waveform.prototype.seekTo = function (seconds) {
    var length = this.length();
    if (!length) return;
    seconds = Math.max(0, Math.min(length, seconds));
    this.audio.currentTime = seconds;
    this.canvas.dataset.seekedTo = seconds.toFixed(3);
    this.draw();
  };

  Waveform.prototype.draw = function () {
    var canvas = this.canvas;
    var ratio = window.devicePixelRatio || 1;
    var width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    var height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    var g = canvas.getContext("2d");
    g.clearRect(0, 0, width, height);
    var length = this.length();
    var played = length ? (this.audio.currentTime || 0) / length : 0;
    canvas.setAttribute("aria-valuemax", length.toFixed(1));
    canvas.setAttribute("aria-valuenow", (this.audio.currentTime || 0).toFixed(1));
    canvas.setAttribute("aria-valuetext", (this.audio.currentTime || 0).toFixed(1) + " of " + length.toFixed(1) + " seconds");
    if (!this.peaks) return;
    var accent = themeColour(canvas, "--accent", "#3b5bdb");
    var muted = themeColour(canvas, "--muted", "#888888");
    var bar = Math.max(1, Math.floor(2 * ratio));
    var columns = Math.floor(width / (bar + 1));
    var middle = height / 2;
    for (var c = 0; c < columns; c++) {
      var peak = this.peaks[Math.floor((c / columns) * this.peaks.length)] || 0;
      var half = Math.max(ratio, peak * (middle - 2));
      var x = c * (bar + 1);
      g.fillStyle = x / width <= played ? accent : muted;
      g.fillRect(x, middle - half, bar, half * 2);
    }
    g.fillStyle = themeColour(canvas, "--ink", "#111111");
    g.fillRect(Math.min(width - ratio, played * width), 0, Math.max(1, ratio), height);
  };

  function attach(canvas, audio, url) {
    var wave = canvas._timbreWaveform || new Waveform(canvas, audio);
    canvas._timbreWaveform = wave;
    canvas.dataset.state = "loading";
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("The audio could not be loaded (" + response.status + ").");
        return response.arrayBuffer();
      })
      .then(decode)
      .then(function (buffer) {
        wave.duration = buffer.duration;
        wave.peaks = peaksOf(buffer, 2000);
        canvas.dataset.state = "drawn";
        wave.draw();
        return wave;
      })
      .catch(function (error) {
        canvas.dataset.state = "failed";
        canvas.setAttribute("aria-label", "Waveform unavailable: " + error.message);
        throw error;
      });
  }

  window.TimbreWaveform = { attach: attach };

  document.querySelectorAll("canvas[data-waveform-src]").forEach(function (canvas) {
    var audio = document.getElementById(canvas.dataset.waveformAudio);
    if (audio) attach(canvas, audio, canvas.dataset.waveformSrc).catch(function () {});
  });
})();
