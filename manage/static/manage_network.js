// A network admin's all-centers table. It follows the network over /live (auth
// {network: true}): each `network.center` event rewrites that center's row in place
// (waiting, longest wait, service level, over target). The table is fetched whole at
// each (re)connect's snapshot and at most every few minutes while events come, for
// what the events do not carry (today's visitors, a center added since).
"use strict";

(() => {
  const M = Manage;
  const { t, el } = Novbe;
  const { $, state, minutes, percent } = M;

  const NETWORK_FETCH_EVERY_MS = 5 * 60 * 1000; // the whole table again, while events come

  function openNetwork() {
    state.centerCode = null;
    sessionStorage.removeItem(M.KEYS.center);
    M.disconnect();
    state.network = null;
    state.networkLive = new Map();
    $("network-rows").replaceChildren();
    M.showView("network");
    connectNetwork(); // its snapshot fetches the table
  }

  // Only a network admin (no center of their own) may follow the whole network; the
  // server says so too. The table is fetched after the socket has joined, so a change
  // made meanwhile is in the fetch or in an event, never in neither.
  function connectNetwork() {
    const handlers = {
      snapshot: () => scheduleNetworkFetch(0),
      "network.center": onNetworkCenter,
    };
    const banner = Novbe.statusBanner($("connection"));
    const socket = Novbe.live({ network: true }, handlers, {
      onStatus: (status, reason) => {
        if (state.socket !== socket) return; // closed on purpose
        banner(status, reason);
        if (status !== "refused") return;
        // The session has ended (StaffSession signs out), or the server will not let us
        // follow: the table still shows, fetched once (Refresh fetches it again).
        StaffSession.recheck()
          .then((user) => user && refreshNetwork())
          .catch(() => {});
      },
    });
    state.socket = socket;
  }

  // One center's figures just now: its row is rewritten in place; today's visitors
  // stay as last fetched until the next fetch, which comes within a few minutes.
  function onNetworkCenter(row) {
    if (state.centerCode !== null || !row || typeof row.center !== "string") return;
    state.networkLive.set(row.center, row);
    const tr = networkRow(row.center);
    if (!tr) {
      if (state.network) scheduleNetworkFetch(M.REFRESH_DELAY_MS); // a center new to the table
      return;
    }
    applyNetworkRow(tr, row);
    scheduleNetworkFetch(Math.max(0, state.networkFetchedAt + NETWORK_FETCH_EVERY_MS - Date.now()));
  }

  // A fetch of the whole table after `delay`, unless one is due sooner already.
  function scheduleNetworkFetch(delay) {
    const at = Date.now() + delay;
    if (state.networkTimer && state.networkTimer.at <= at) return;
    clearNetworkTimer();
    state.networkTimer = { at, id: setTimeout(refreshNetwork, delay) };
  }

  function clearNetworkTimer() {
    if (state.networkTimer) clearTimeout(state.networkTimer.id);
    state.networkTimer = null;
  }

  // Today's figures of every center the admin may see (GET /report lists them), then
  // each center's live dashboard for waiting now and the longest wait.
  async function refreshNetwork() {
    clearNetworkTimer();
    const mine = ++state.networkFetches;
    state.networkFetchedAt = Date.now();
    const error = $("network-error");
    try {
      const today = M.localToday();
      const report = await StaffSession.request("GET", `/api/v1/report?from=${today}&to=${today}`);
      const boards = await Promise.all(
        report.centers.map((c) =>
          StaffSession.request(
            "GET",
            `/api/v1/centers/${encodeURIComponent(c.center)}/dashboard`,
          ).catch(() => null),
        ),
      );
      if (mine !== state.networkFetches) return; // superseded, or the view was left
      M.showInline(error, "");
      state.network = { centers: report.centers, boards };
      renderNetwork();
    } catch (err) {
      if (mine === state.networkFetches) M.handleFetchError(err, error);
    }
  }

  function networkRow(code) {
    return [...$("network-rows").rows].find((tr) => tr.dataset.center === code) || null;
  }

  function renderNetwork() {
    if (!state.network) return;
    const { centers, boards } = state.network;
    const rows = centers.map((center, i) => {
      const board = boards[i];
      const over = board && board.services.some((s) => s.over_target);
      const tr = el(
        "tr",
        { class: over ? "over" : "", dataset: { center: center.center } },
        el("td", { class: "name" }, Novbe.named(center.name)),
        el("td", { class: "num", dataset: { figure: "waiting" } }, board ? board.waiting : "–"),
        el(
          "td",
          { class: "num", dataset: { figure: "longest" } },
          board ? minutes(board.longest_wait_s) : "–",
        ),
        el(
          "td",
          { class: "num", dataset: { figure: "level" } },
          percent(board ? board.today.service_level : center.service_level),
        ),
        el(
          "td",
          { class: "num", dataset: { figure: "visitors" } },
          board ? board.today.visitors : center.visitors,
        ),
        el(
          "td",
          {},
          el("button", { type: "button", onclick: () => M.openCenter(center.center) }, t("manage.open")),
        ),
      );
      // An event newer than the fetched figures (it came while they were on the way).
      const live = state.networkLive.get(center.center);
      if (live && (!board || Date.parse(live.at) >= Date.parse(board.at))) applyNetworkRow(tr, live);
      return tr;
    });
    $("network-rows").replaceChildren(...rows);
  }

  function applyNetworkRow(tr, row) {
    const cell = (figure) => tr.querySelector(`[data-figure="${figure}"]`);
    cell("waiting").textContent = row.waiting;
    cell("longest").textContent = minutes(row.longest_wait_s);
    cell("level").textContent = percent(row.service_level);
    tr.classList.toggle("over", !!row.over_target);
  }

  Object.assign(M, { openNetwork, refreshNetwork, renderNetwork, clearNetworkTimer });
})();
