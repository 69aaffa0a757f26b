// The touch kiosk (/kiosk/<device>): language, category, service, ticket. The tap on
// a service issues the ticket: at most three taps, two when there is one category.
// This file is the page's start: the buttons' wiring, the first screen, and the live
// channel opened when this kiosk has a token. Loaded last, after the parts that share
// the namespace `Kiosk`: kiosk_state.js (state, the catalog), kiosk_screens.js (the
// screen flow and the idle timer), kiosk_ticket.js (issuing, the ticket screen,
// printing), kiosk_offline.js (what the kiosk shows and allows without its server),
// kiosk_live.js (the connection to the server, with live_keeper.js), kiosk_access.js
// (the accessibility mode: read aloud, keypad, larger text), kiosk_checkin.js (arrival:
// an appointment's code or an absent ticket's QR).
"use strict";

(() => {
  const K = Kiosk;
  const { $, state } = K;

  function wire() {
    document.querySelectorAll("button.language").forEach((button) => {
      button.addEventListener("click", () => K.chooseLanguage(button.dataset.lang));
    });
    document.querySelectorAll("[data-back]").forEach((button) => {
      button.addEventListener("click", () => {
        const target = button.dataset.back;
        if (target === "start") K.reset();
        else {
          K.renderCategories();
          K.show(target);
        }
      });
    });
    $("restart").addEventListener("click", K.reset);
    $("done").addEventListener("click", K.reset);
    $("retry").addEventListener("click", K.send);
    K.wireCheckin(); // its keys before the accessibility mode's (a scanner's Enter)
    K.wireAccess();
    // Any touch keeps the visitor's screen.
    for (const event of ["pointerdown", "keydown"]) {
      document.addEventListener(event, K.armIdle, { capture: true, passive: true });
    }
  }

  function start() {
    document.querySelectorAll(".trilingual").forEach((element) => K.renderTrilingual(element));
    Novbe.setLanguage(Novbe.page.language);
    wire();
    K.show("start");
    if (!state.token) {
      K.setLink("unset");
      return;
    }
    K.connect();
  }

  start();
})();
