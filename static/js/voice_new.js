/* The consent step and voice creation: attest → phrase → record → (verify) → create / attach.
 *
 * Works on a form with [data-voice-new] (new voice from samples) or [data-voice-consent=<id>]
 * (a voice created through the API that waits for consent).
 */
(function () {
  "use strict";

  var form = document.querySelector("[data-voice-new], [data-voice-consent]");
  if (!form) return;
  var fieldset = form.querySelector("[data-consent]");
  var attest = fieldset.querySelector("[data-attest]");
  var start = fieldset.querySelector("[data-consent-start]");
  var statementBox = fieldset.querySelector("[data-consent-statement]");
  var state = fieldset.querySelector("[data-consent-state]");
  var recorderRoot = fieldset.querySelector("[data-recorder]");
  var create = form.querySelector("[data-create]");
  var formError = form.querySelector("[data-form-error]");
  var recordingRequired = fieldset.dataset.recordingRequired === "true";
  var createWhy = form.querySelector("[data-create-why]");
  // Set by the server when a build would fail (cloning unavailable, no free slot): the button
  // stays disabled and its reason stays visible whatever else is filled in.
  var blocked = form.dataset.blocked !== undefined;
  var consent = null;
  var consentReady = false;

  async function api(method, url, payload) {
    var answer = await fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": window.TimbreRecorder.csrfToken() },
      body: JSON.stringify(payload),
    });
    var body = await answer.json();
    if (!answer.ok) throw new Error(body.error ? body.error.message : "Request failed (" + answer.status + ")");
    return body;
  }

  function selectedSamples() {
    return Array.prototype.map.call(form.querySelectorAll("input[name=samples]:checked"), function (box) { return box.value; });
  }

  /** Why the create button is disabled now ("" when it is not). */
  function missing() {
    if (blocked) return createWhy ? createWhy.textContent : "";
    var isNew = form.dataset.voiceNew !== undefined;
    if (isNew && selectedSamples().length === 0) return "Choose at least one sample.";
    if (!consentReady) {
      return recordingRequired ? "Confirm the statement, then record and upload your consent."
                               : "Confirm the statement first.";
    }
    if (isNew && form.elements.namedItem("name").value.trim() === "") return "Give the voice a name.";
    return "";
  }

  function refresh() {
    var why = missing();
    create.disabled = why !== "";
    if (createWhy) { createWhy.textContent = why; createWhy.hidden = why === ""; }
  }

  var startWhy = fieldset.querySelector("[data-consent-start-why]");
  attest.addEventListener("change", function () {
    start.disabled = !attest.checked || consent !== null;
    if (startWhy && consent === null) startWhy.hidden = attest.checked;
  });
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);

  start.addEventListener("click", async function () {
    start.disabled = true;
    try {
      consent = await api("POST", "/api/v1/consents", { attest: true });
    } catch (err) {
      state.textContent = err.message;
      start.disabled = false;
      return;
    }
    attest.disabled = true;
    if (startWhy) { startWhy.textContent = "Your consent is recorded for this voice."; startWhy.hidden = false; }
    if (!recordingRequired) {
      consentReady = true;
      state.textContent = "Thank you: your attestation is recorded.";
      refresh();
      return;
    }
    statementBox.querySelector("[data-statement]").textContent = consent.statement;
    recorderRoot.dataset.uploadUrl = "/api/v1/consents/" + consent.id + "/recording";
    statementBox.hidden = false;
    state.textContent = "Record the statement above, listen to it, then upload it.";
  });

  fieldset.addEventListener("recorder:done", function (event) {
    consentReady = event.detail.status === "ready";
    state.textContent = consentReady
      ? "Consent recorded. When you create the voice we check that it is the same speaker as your samples."
      : "Please record the statement again.";
    refresh();
  });

  refresh();

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    create.disabled = true;
    formError.textContent = "";
    try {
      if (form.dataset.voiceNew !== undefined) {
        var voice = await api("POST", "/api/v1/voices", {
          name: form.elements.namedItem("name").value.trim(),
          language: form.elements.language.value,
          description: form.elements.description.value,
          samples: selectedSamples(),
          consent: consent.id,
          engines: Array.prototype.filter
            .call(form.querySelectorAll("input[name=engines]"), (box) => box.checked)
            .map((box) => box.value),
        });
        window.location.assign("/voices/" + voice.id + "/");
      } else {
        await api("POST", "/api/v1/voices/" + form.dataset.voiceConsent + "/consent", { consent: consent.id });
        window.location.reload();
      }
    } catch (err) {
      formError.textContent = err.message;
      refresh();
    }
  });
})();
