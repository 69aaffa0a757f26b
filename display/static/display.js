// The waiting-room display (/display/<device>): a TV that shows and announces the
// latest calls, the waiting counts and the time, unattended for weeks. This file is
// the page's start: the live channel and what its events redraw, the turns of pages
// and languages, the header, the connection banner. Loaded last, after the parts
// that share the namespace `NovbeDisplay`: display_state.js (state, words, the
// snapshot), display_clock.js (the clock), display_calls.js (the called tickets),
// display_services.js (the waiting list, laid out and paged), display_sound.js (the
// chime and the voice).
//
// Everything on screen is rebuilt from the `snapshot` each (re)connect brings, then
// kept current by live events; nothing is polled. A change of the display's settings
// (device.updated) reconnects at once for a fresh snapshot. Every list is bounded
// (rows on screen, announcements waiting their turn, cached formatters) so weeks of
// calls cannot grow memory, and the page reloads itself once a night when it can.
"use strict";

(() => {
  const D = NovbeDisplay;
  const { $, state, page, tIn } = D;
  const ROTATE_MS = 8000; // how long a page of the waiting list stays (one page: a language)
  const REFUSED_RETRY_MS = 60000; // a refused screen tries again (token fixed, server back)
  const LONG_CENTER_NAME = 36; // characters; longer ones get two smaller lines

  function renderCenter() {
    const lang = D.rotating();
    const name = $("center-name");
    const text = state.center ? D.named(state.center.name, lang) : "";
    name.lang = lang;
    name.classList.toggle("long", text.length > LONG_CENTER_NAME);
    D.setText(name, text);
  }

  function renderAll(options) {
    D.renderHeadings();
    renderCenter();
    D.renderCalls(options);
    D.renderServices();
    D.tick();
  }

  // Every few seconds: the waiting list's next page or, after its last, the next
  // language for every word that takes turns.
  function rotate() {
    if (D.turnPage()) return;
    state.rotation = (state.rotation + 1) % D.LANGS.length;
    renderCenter();
    D.renderServices();
    D.onLanguageTurn();
  }

  // ---- live events --------------------------------------------------------------
  function onSnapshot(snapshot) {
    D.syncClock(snapshot.at);
    const missed = D.applySnapshot(snapshot);
    renderAll({ flash: missed.includes(state.calls[0]) });
    missed.forEach(D.enqueueAnnouncement);
  }

  function onCalled(call) {
    if (D.addCall(call)) D.enqueueAnnouncement(call);
  }

  function onStats(stats) {
    state.stats = stats;
    D.syncClock(stats.at);
    D.renderServices();
  }

  // The shared banner, in all three languages (nobody chose one here). A refusal is
  // said in the catalog's words for the server's reason (`data.code`), never in the
  // server's own message, which is English.
  let retryTimer = null;

  function bannerKey(status, data) {
    return status === "refused" ? Novbe.refusalKey(data) : "conn.lost";
  }

  function onStatus(status, _reason, data) {
    const banner = $("connection");
    banner.hidden = status === "online";
    banner.dataset.status = status;
    document.body.classList.toggle("offline", status !== "online");
    if (status !== "online") {
      const key = bannerKey(status, data);
      banner.textContent = D.languagesInOrder()
        .map((lang) => tIn(lang, key))
        .join(" · ");
    }
    // Socket.IO does not retry a refusal; a screen nobody watches must, slowly.
    if (status === "refused" && retryTimer === null) {
      retryTimer = setTimeout(() => {
        retryTimer = null;
        state.socket.connect();
      }, REFUSED_RETRY_MS);
    }
  }

  // Keep a TV stick or PC from blanking the screen. Browsers grant this only to a
  // visible page in a secure context (https or localhost), and drop it when the page
  // is hidden, so ask again whenever it becomes visible; where refused, nothing lost.
  function keepScreenOn() {
    if (!navigator.wakeLock || document.visibilityState !== "visible") return;
    navigator.wakeLock.request("screen").catch(() => {});
  }

  function start() {
    renderAll();
    keepScreenOn();
    document.addEventListener("visibilitychange", keepScreenOn);
    setInterval(D.tick, 1000);
    setInterval(rotate, ROTATE_MS);
    // The pages are cut, and long numbers fitted, to the screen's size: a new size,
    // new pages.
    window.addEventListener("resize", () => {
      D.fitCalls();
      D.renderServices();
    });
    D.wireSound();

    const token = Novbe.deviceToken(`novbe.display.${page.device}`);
    if (!token) {
      $("app").classList.add("unset"); // the clock, and how to set this screen up
      $("setup").hidden = false;
      return;
    }
    state.socket = Novbe.live(
      { token },
      {
        snapshot: onSnapshot,
        "ticket.called": onCalled,
        "queue.stats": onStats,
        "device.updated": () => Novbe.resync(state.socket), // new settings: a fresh snapshot
      },
      { onStatus },
    );
  }

  Object.assign(D, { rotate });
  // The live connection (the browser console's diagnostics).
  Object.defineProperty(D, "socket", { get: () => state.socket, enumerable: true });
  start();
})();
