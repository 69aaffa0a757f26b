// The kiosk's connection to the server: the live channel with this kiosk's token, the
// connection banner when it is lost or refused, and what arrives there. Every
// (re)connect brings a snapshot (the center, the catalog, this kiosk's settings, the
// queue figures), and so does a change of this kiosk's settings (device.updated);
// queue.stats keeps the figures current; ticket.print_state goes to kiosk_ticket.js.
// A visitor in the middle of taking a ticket keeps their screen through all of it.
"use strict";

(() => {
  const K = Kiosk;
  const { $, state } = K;

  function connect() {
    const banner = Novbe.statusBanner($("connection"));
    const onStatus = (status, reason) => {
      banner(status, reason);
      if (status === "refused") K.setNotice("kiosk.not_set_up");
    };
    const socket = Novbe.live(
      { token: state.token },
      {
        snapshot: onSnapshot,
        "queue.stats": onStats,
        "ticket.print_state": K.onPrintState,
        "device.updated": () => Novbe.resync(socket), // a fresh snapshot, no reload
      },
      { onStatus },
    );
  }

  function onSnapshot(snapshot) {
    state.snapshot = snapshot;
    document.querySelectorAll("button.language").forEach((b) => (b.disabled = false));
    K.setNotice(null);
    if (state.screen === "start") Novbe.setLanguage(K.startLanguage()); // before the name
    K.renderCenterName();
    onStats(snapshot.stats);
    if (state.screen === "category") K.renderCategories();
    if (state.screen === "service") K.renderPriorities();
  }

  function onStats(stats) {
    state.stats = Object.fromEntries(stats.services.map((row) => [row.service, row]));
    if (state.screen === "service") K.renderServices();
  }

  Object.assign(K, { connect });
})();
