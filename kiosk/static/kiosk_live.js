// The kiosk's connection to the server: the live channel with this kiosk's token, kept
// trying for as long as it takes (live_keeper.js), and what arrives there. Every
// (re)connect brings a snapshot (the center, the catalog, this kiosk's settings, the
// queue figures), and so does a change of this kiosk's settings (device.updated);
// queue.stats keeps the figures current; ticket.print_state goes to kiosk_ticket.js.
// Whether tickets can be issued meanwhile, and what the screens say about it, is
// kiosk_offline.js's: the kiosk is online again with a fresh snapshot, not before.
"use strict";

(() => {
  const K = Kiosk;
  const { state } = K;
  const MAX_DELAY_MS = 8000; // between attempts, before the back-off's jitter (±25 %)

  function connect() {
    const socket = Novbe.live(
      { token: state.token },
      {
        snapshot: onSnapshot,
        "queue.stats": onStats,
        "ticket.print_state": K.onPrintState,
        "device.updated": () => Novbe.resync(socket), // a fresh snapshot, no reload
      },
      // "online" waits for the snapshot; a refusal comes with its code below.
      { onStatus: (status) => status === "offline" && K.setLink("offline") },
    );
    LiveKeeper.keep(socket, {
      maxDelayMs: MAX_DELAY_MS,
      onRefused: (code) => K.setLink("refused", code),
    });
  }

  function onSnapshot(snapshot) {
    state.snapshot = snapshot;
    if (state.screen === "start") Novbe.setLanguage(K.startLanguage()); // before the name
    K.renderCenterName();
    onStats(snapshot.stats);
    if (state.screen === "category") K.renderCategories();
    if (state.screen === "service") K.renderPriorities();
    K.setLink("online"); // the visitor on the offline screen goes back where they were
  }

  function onStats(stats) {
    state.stats = Object.fromEntries(stats.services.map((row) => [row.service, row]));
    if (state.screen === "service") K.renderServices();
  }

  Object.assign(K, { connect });
})();
