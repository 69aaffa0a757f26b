// What the kiosk shows about its connection, and what it lets a visitor do without
// one. Tickets are issued only while the live channel is up with a fresh snapshot:
// otherwise the start screen's languages are disabled and it says, in all three
// languages, that no ticket can be issued now and to ask staff; a visitor between the
// language and the ticket is shown the offline screen in their language instead of
// categories and services the kiosk cannot issue. When the snapshot is back, so is the
// visitor, on the screen they left; a ticket request that got no answer is sent again
// with its key (the server gives back the ticket if it already issued it), so the
// visitor ends on their ticket or a clear message, never on a ticket that does not exist.
// The banner says the same in the current language (all three on the start screen).
"use strict";

(() => {
  const K = Kiosk;
  const { $, state } = K;
  // The screens on the way to a ticket: each needs the server for its next step.
  const FLOW = ["category", "service", "unreachable", "checkin"];

  function canIssue() {
    return state.link === "online";
  }

  // The screen to show when `name` is asked for: the offline screen in place of a
  // screen on the way to a ticket while no ticket can be issued.
  function screenFor(name) {
    if (canIssue() || !FLOW.includes(name)) return name;
    state.resume = name;
    return "offline";
  }

  // The live channel's state changed (kiosk_live.js).
  function setLink(link, refusal = null) {
    state.link = link;
    state.refusal = refusal;
    if (link === "online") {
      if (state.screen === "offline") comeBack();
    } else if (FLOW.includes(state.screen) && !state.busy) {
      // A request on its way keeps its screen: its answer (or its failure) decides.
      K.show(state.screen);
    }
    renderLink();
  }

  // Back where the visitor was, redrawn from the fresh snapshot.
  function comeBack() {
    const target = state.resume;
    state.resume = null;
    const offer = K.categories();
    if (target === "unreachable" && state.pending) {
      K.renderPriorities();
      K.renderServices();
      K.show("service");
      K.send();
    } else if (target !== "category" && offer.some((c) => c.code === state.category)) {
      K.renderPriorities();
      K.renderServices();
      K.show("service");
    } else if (offer.length > 1) {
      K.renderCategories();
      K.show("category");
    } else if (offer.length === 1) {
      K.openServices(offer[0].code);
    } else {
      K.reset();
    }
  }

  // The banner, the start screen's notice and languages, the offline screen's words.
  function renderLink() {
    const link = state.link;
    document.querySelectorAll("button.language").forEach((b) => (b.disabled = !canIssue()));
    $("checkin-start").disabled = !canIssue();
    // The accessibility mode speaks with the server's voice: not offered without it.
    $("access-start").hidden = !canIssue();
    const notice = {
      connecting: "kiosk.connecting",
      offline: "kiosk.offline",
      refused: "kiosk.not_set_up",
      unset: "kiosk.not_set_up",
    }[link];
    K.setNotice(notice || null);

    const banner = $("connection");
    let key = null;
    if (link === "offline") key = "conn.lost";
    if (link === "refused") key = LiveKeeper.refusalKey(state.refusal);
    banner.hidden = !key;
    banner.dataset.status = link;
    if (key) {
      // Nobody has chosen a language on the start screen: all three, as its words.
      const start = state.screen === "start";
      banner.classList.toggle("trilingual", start);
      if (start) K.renderTrilingual(banner, key);
      else banner.textContent = Novbe.t(key);
    }
    $("offline-pending").hidden = !state.pending;
  }

  Object.assign(K, { canIssue, screenFor, setLink, renderLink });
})();
