/* Light/dark theme. The page follows prefers-color-scheme until the person picks one with the
   header toggle; the choice is kept in localStorage and applied as <html data-theme="...">,
   which the CSS lets override the media query. Loaded in <head> so there is no flash. */
(function () {
  "use strict";
  var KEY = "timbre-theme";
  var root = document.documentElement;
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  root.classList.add("js");

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "dark" || value === "light" ? value : null;
    } catch (e) {
      return null; // storage blocked: follow the system setting
    }
  }

  function effective() {
    return root.dataset.theme || (media && media.matches ? "dark" : "light");
  }

  function sync() {
    var dark = effective() === "dark";
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.setAttribute("aria-pressed", dark ? "true" : "false");
      button.textContent = "Dark mode";
      button.title = dark ? "Switch to the light theme" : "Switch to the dark theme";
    });
  }

  var initial = stored();
  if (initial) root.dataset.theme = initial;

  document.addEventListener("DOMContentLoaded", function () {
    sync();
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-theme-toggle]");
      if (!button) return;
      var next = effective() === "dark" ? "light" : "dark";
      root.dataset.theme = next;
      try {
        window.localStorage.setItem(KEY, next);
      } catch (e) {
        /* not persisted; still applies to this page */
      }
      sync();
    });
    if (media && media.addEventListener) media.addEventListener("change", sync);
  });
})();
