// Keeps a visitor-facing page's live channel (a socket from Novbe.live) trying to
// reach the server for as long as it takes, so the page comes back by itself after an
// outage of any length, without a reload. Used by the kiosk and the phone page.
//
// Socket.IO retries a lost connection by itself; here its back-off is capped low
// (a kiosk that cannot issue tickets is a queue at the door) and three things it
// does not retry are: a refusal by the server (a server starting up or full refuses
// for a while; retried every `refusedRetryMs`), an attempt that hangs with no answer,
// and the browser's own "back online", which skips the wait.
"use strict";

const LiveKeeper = (() => {
  const WATCH_MS = 2000; // how often the watchdog looks
  const STUCK_MS = 30_000; // no attempt, answer or error for this long: start afresh
  // socket.io's back-off doubles its delay each attempt and only then caps it; far
  // past the cap the double overflows and the jitter makes it NaN (a zero delay, a
  // busy loop on a long outage). Kept under 2^10 doublings, which is far past any cap.
  const MAX_DOUBLINGS = 10;

  // `onRefused(code)`: the server refused the connect; `code` is the error's code when
  // the server sent one (`{code}` in the refusal's data), else null.
  function keep(socket, { maxDelayMs = 8000, refusedRetryMs = 15_000, onRefused = () => {} } = {}) {
    const manager = socket.io;
    manager.reconnectionDelay(1000);
    manager.reconnectionDelayMax(maxDelayMs);
    manager.randomizationFactor(0.25);
    manager.reconnectionAttempts(Infinity);

    let lastSign = Date.now(); // the last attempt, answer or error
    let refusedAt = null;
    const sign = () => {
      lastSign = Date.now();
    };
    manager.on("reconnect_attempt", () => {
      sign();
      if (manager.backoff && manager.backoff.attempts > MAX_DOUBLINGS) {
        manager.backoff.attempts = MAX_DOUBLINGS;
      }
    });
    socket.on("connect", () => {
      sign();
      refusedAt = null;
    });
    socket.on("disconnect", sign);
    socket.on("connect_error", (err) => {
      sign();
      // A refusal leaves the socket inactive: socket.io will not try again by itself.
      if (socket.active) return;
      refusedAt = Date.now();
      onRefused((err && err.data && err.data.code) || null);
    });

    function afresh() {
      sign();
      socket.disconnect();
      socket.connect();
    }

    setInterval(() => {
      if (socket.connected) return;
      const now = Date.now();
      if (!socket.active) {
        if (refusedAt === null || now - refusedAt >= refusedRetryMs) afresh();
      } else if (now - lastSign > STUCK_MS) {
        afresh();
      }
    }, WATCH_MS);
    window.addEventListener("online", () => {
      if (!socket.connected) afresh();
    });
    return socket;
  }

  // The words for a refusal with this code (Novbe.refusalKey).
  function refusalKey(code, fallback = "conn.refused.other") {
    return Novbe.refusalKey({ code }, fallback);
  }

  return { keep, refusalKey };
})();
