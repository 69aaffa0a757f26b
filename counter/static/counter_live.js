// The counter page's live channel: opening the desk on a counter (/live with
// {counter} and the login cookie), and what the server says there. Every (re)connect
// brings a snapshot and every change an event, and the desk is redrawn from them, so
// two tabs on one counter, or a tab that lost its connection, show the server's state.
// `counter.presence` says who works at the counter (the warning when someone else does).
"use strict";

(() => {
  const C = Counter;
  const { $, state, KEYS, currentTicket } = C;

  function openDesk(counterId) {
    disconnect();
    Object.assign(state, {
      counterId,
      counter: null,
      stats: null,
      refused: null,
      refusedCode: null,
      presence: null,
      online: false,
    });
    C.clearNotice();
    C.showView("desk");
    C.renderDesk();
    connect();
  }

  function connect() {
    const banner = Novbe.statusBanner($("connection"));
    const socket = Novbe.live(
      { counter: state.counterId }, // who is asking: the login cookie
      {
        snapshot: onSnapshot,
        "counter.updated": onCounter,
        "queue.stats": onStats,
        "ticket.updated": onTicketUpdated,
        "counter.presence": onPresence,
      },
      {
        onStatus: (status, reason, data) => {
          if (state.socket !== socket) return; // an old socket, closed on purpose
          state.online = status === "online";
          banner(status === "refused" ? "online" : status); // a refusal has its own panel
          if (status === "refused") onRefused(reason, data);
          C.renderButtons();
          C.renderParked();
        },
      },
    );
    state.socket = socket;
  }

  function disconnect() {
    const socket = state.socket;
    state.socket = null;
    state.online = false;
    if (socket) socket.disconnect();
    $("connection").hidden = true;
  }

  // The server refused the socket: the session is gone (StaffSession signs out and the
  // login form says so) or this staff member may not use that counter (say so, and
  // offer the picker).
  async function onRefused(reason, data) {
    try {
      if (!(await StaffSession.recheck())) return;
    } catch {
      // No answer: show the refusal as it came.
    }
    state.refused = reason || "";
    state.refusedCode = (data && data.code) || null;
    if (localStorage.getItem(KEYS.counter) === String(state.counterId)) {
      localStorage.removeItem(KEYS.counter); // do not come back to it on reload
    }
    C.renderDesk();
  }

  function onSnapshot(snapshot) {
    state.clockOffsetMs = Date.parse(snapshot.at) - Date.now() || 0;
    state.presence = null; // a new connection: its own counter.presence follows
    state.centerCode = snapshot.center.code;
    state.timezone = snapshot.center.timezone || null;
    state.services = snapshot.services;
    state.stats = snapshot.stats;
    state.statsAt = C.serverNow();
    setCounter(snapshot.counter);
    localStorage.setItem(KEYS.counter, String(snapshot.counter.id));
    refreshPolicy();
    C.renderDesk();
    C.appointmentsSnapshot(snapshot); // today's bookings (counter_appointments.js)
  }

  // recalls_before_no_show is not in the snapshot; the catalog endpoint has it.
  async function refreshPolicy() {
    try {
      const catalog = await StaffSession.request(
        "GET",
        `/api/v1/centers/${state.centerCode}/services`,
      );
      state.recallsNeeded = catalog.center.recalls_before_no_show;
      C.renderButtons();
    } catch {
      // Signed out already (a 401), or no answer: the last figure stands.
    }
  }

  function setCounter(counter) {
    state.counter = counter;
    if (counter.ticket) state.lastTicket = counter.ticket;
  }

  function onCounter(counter) {
    if (counter.id !== state.counterId) return;
    setCounter(counter);
    C.renderDesk();
  }

  function onStats(stats) {
    state.stats = stats;
    state.statsAt = C.serverNow();
    C.renderQueues();
    C.renderPriority();
    C.appointmentsChanged(); // a check-in or a call changes the day's bookings
  }

  // Who works at this counter, as the server knows it on every process. Two processes
  // may announce at once: the higher version is the later list.
  function onPresence(presence) {
    if (!presence || presence.counter !== state.counterId) return;
    if (state.presence && presence.version < state.presence.version) return;
    state.presence = presence;
    C.renderPresence();
  }

  // ticket.updated for the center: notice parks at this counter (by any tab or
  // device) and drop parked tickets that moved on (resumed, cancelled, expired).
  function onTicketUpdated(update) {
    if (!state.counter) return;
    if (update.action === "park" && update.counter === state.counter.label) {
      const seen = [currentTicket(), state.lastTicket];
      const known = seen.find((tk) => tk && tk.number === update.number);
      if (known) C.addParked({ id: known.id, number: known.number, service: known.service });
    } else if (update.status !== "parked") {
      C.removeParked(
        (entry) => entry.number === update.number && entry.service === update.service,
      );
    }
  }

  Object.assign(C, { openDesk, disconnect });
})();
