
"use strict";
(function () {
  // The server's clock, so countdowns agree with the server (and with tests that set it).
  const skew = Number(document.body.dataset.now) - Date.now() / 1000;
  const now = () => Date.now() / 1000 + skew;
  const refreshAfter = Number(document.body.dataset.refreshAfter || 0);
  // A device-bound cookie (DBSC) is renewed by the browser with a proof, never by age.
  const bound = document.body.dataset.bound === "1";
  // With SESSION_CSRF=token the page carries the session's CSRF token: every request this
  // script makes sends it in the X-CSRF-Token header (forms send it in a hidden field).
  const csrf = document.body.dataset.csrf;
  const withCsrf = (headers) => (csrf ? { ...headers, "X-CSRF-Token": csrf } : headers);
  const two = (n) => String(n).padStart(2, "0");

  function span(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (h >= 100) return Math.floor(h / 24) + " d " + (h % 24) + " h";
    if (h > 0) return h + ":" + two(m) + ":" + two(s % 60);
    return m + ":" + two(s % 60);
  }

  // A time of today as a time, any other as a date and time, in the browser's time zone.
  function local(epoch) {
    const date = new Date(epoch * 1000);
    const today = new Date((now()) * 1000).toDateString() === date.toDateString();
    return today
      ? date.toLocaleTimeString()
      : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function showLocal(el) {
    el.textContent = local(Number(el.dataset.epoch));
  }

  function tick() {
    for (const el of document.querySelectorAll("[data-deadline]")) {
      const left = Number(el.dataset.deadline) - now();
      el.textContent = left > 0 ? span(left) : el.dataset.done;
      const tile = el.closest(".clock");
      if (tile) tile.classList.toggle("passed", left <= 0);
    }
  }

  // Moves a countdown tile to a new deadline.
  function retarget(id, deadline) {
    const tile = document.getElementById(id);
    if (!tile) return;
    tile.querySelector("[data-deadline]").dataset.deadline = String(deadline);
    const when = tile.querySelector("time");
    when.dataset.epoch = String(deadline);
    when.dateTime = new Date(deadline * 1000).toISOString();
    showLocal(when);
  }

  document.querySelectorAll("time[data-epoch]").forEach(showLocal);
  tick();
  setInterval(tick, 1000);

  // With a token, the note form is sent by the script: the note as text/plain with the
  // token in the header (the layer checks it), then the page reloads. Any refusal falls
  // back to the plain form post, so the server's own page says what went wrong.
  const noteForm = document.querySelector("form[action='/note']");
  if (csrf && noteForm) {
    noteForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = noteForm.querySelector("textarea").value;
      try {
        const response = await fetch("/note", {
          method: "POST",
          headers: withCsrf({ "Content-Type": "text/plain;charset=UTF-8", Accept: "application/json" }),
          body: text,
          cache: "no-store",
        });
        if (response.ok) {
          location.hash = "notes";
          location.reload();
          return;
        }
      } catch (error) {
        // Fall back to the form below.
      }
      noteForm.submit();
    });
  }

  const button = document.getElementById("ping");
  const out = document.getElementById("ping-result");
  if (!button || !out) return;
  button.hidden = false;

  function show(kind, title, text) {
    const box = document.createElement("span");
    box.className = "verdict " + kind;
    const head = document.createElement("strong");
    head.textContent = title + " ";
    const stamp = document.createElement("span");
    stamp.className = "muted";
    stamp.textContent = "(" + new Date().toLocaleTimeString() + ")";
    box.append(head, stamp, document.createElement("br"), text);
    out.replaceChildren(box);
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const response = await fetch("/me", {
        headers: withCsrf({ Accept: "application/json" }),
        cache: "no-store",
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        show("bad", body.title || "Refused", body.message || "HTTP " + response.status);
        return;
      }
      const size = response.headers.get("x-session-token-size");
      if (size !== null) {
        show(
          "good",
          "Re-signed.",
          "The answer carried a new token (Set-Cookie, " + size + " bytes), signed at " +
            local(body.iat) + ". It now expires at " + local(body.exp) +
            ": the idle timeout slid forward.",
        );
        retarget("clock-exp", body.exp);
        if (!bound) retarget("clock-refresh", body.iat + refreshAfter);
        tick();
        const stale = document.getElementById("token-stale");
        if (stale) stale.hidden = false;
      } else if (bound) {
        show(
          "same",
          "Not re-signed.",
          "Your cookie is device-bound: requests never extend it. Your browser gets a new " +
            "one by proving its key when this one runs out, at " + local(body.exp) + ".",
        );
      } else {
        const age = Math.max(0, Math.floor(now() - body.iat));
        show(
          "same",
          "Not re-signed.",
          "The token is " + age + " s old and is refreshed from " + refreshAfter +
            " s on, so the answer sent no cookie: your browser keeps the token it has.",
        );
      }
    } catch (error) {
      show("bad", "No answer.", "The server could not be reached.");
    } finally {
      button.disabled = false;
    }
  });
})();
