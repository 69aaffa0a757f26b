// The public transparency page (/public/<center>): anyone may read it, no login.
// Per service the people waiting and the estimated wait for a newcomer; today's
// service level and approval rate; today's fairness in plain words (calls in queue
// order, out of order by reason, no-shows); and the fairness ledger's proof (today's
// chain head, the last sealed day's signature, the public key to check it with). It
// carries no ticket numbers and no staff.
//
// First paint from GET /api/v1/public/centers/<center> (cacheable), then live over
// /live with auth {public: <center>}: a `snapshot` at every (re)connect and
// `public.stats` whenever the queue moves. Nothing is polled.
"use strict";

const PublicPage = (() => {
  const { t, tn, el } = Novbe;
  const $ = (id) => document.getElementById(id);
  const page = Novbe.page;
  const state = { data: null };

  function percent(share) {
    return `${Math.round(share * 100)}%`;
  }

  // An out-of-order call's reason code in words, with its count ("6 with an
  // appointment"): literal keys, so that `make words` finds every one.
  const REASONS = {
    appointment: (n) => tn("public.reason.appointment", n),
    returning_visitor: (n) => tn("public.reason.returning_visitor", n),
    accessibility: (n) => tn("public.reason.accessibility", n),
    same_family: (n) => tn("public.reason.same_family", n),
    supervisor_request: (n) => tn("public.reason.supervisor_request", n),
    system_error: (n) => tn("public.reason.system_error", n),
    other: (n) => tn("public.reason.other", n),
  };

  // ---- drawing ----------------------------------------------------------------------

  function render() {
    const data = state.data;
    if (!data) return;
    $("center-name").textContent = Novbe.named(data.center.name);
    document.title = `${Novbe.named(data.center.name)} · ${t("app.name")}`;
    renderToday(data.today);
    renderFairness(data.today.fairness);
    renderServices(data.services);
    renderProof(data.ledger, data.center.code);
    renderHall(data.hall);
    renderBooking(data.booking);
    renderRules(data.rules);
    // The center's clock, wherever the reader's phone is.
    const time = new Date(data.at).toLocaleTimeString(Novbe.language, {
      hour: "2-digit",
      minute: "2-digit",
      timeZone: data.center.timezone,
    });
    $("updated").textContent = t("public.updated", { time });
  }

  function renderToday(today) {
    const level = today.service_level;
    $("service-level").textContent = level === null ? "–" : percent(level);
    $("service-level-note").textContent =
      level === null ? t("public.nobody_called") : tn("public.of_called", today.called);
    const approval = today.approval_rate;
    $("approval").textContent = approval === null ? "–" : percent(approval);
    $("approval-note").textContent =
      approval === null ? t("public.no_ratings") : tn("public.of_ratings", today.ratings);
  }

  function renderFairness(fairness) {
    const called = fairness.calls > 0;
    $("fairness-order").textContent = called
      ? tn("public.fairness_share", fairness.calls, {
          share: fairness.in_order_share,
          in_order: fairness.in_order,
        })
      : t("public.nobody_called");
    // The most frequent reason first: the sentence reads as "mostly appointments".
    const reasons = Object.entries(fairness.out_of_order).sort((a, b) => b[1] - a[1]);
    const list = reasons.map(([code, n]) => (REASONS[code] || REASONS.other)(n)).join(", ");
    $("fairness-out").textContent = reasons.length
      ? t("public.out_of_order", { list })
      : t("public.out_of_order_none");
    $("fairness-no-shows").textContent = fairness.no_shows
      ? tn("public.no_shows", fairness.no_shows)
      : t("public.no_shows_none");
    $("fairness-out").hidden = $("fairness-no-shows").hidden = !called;
  }

  // A hash shown short (CSS cuts it), whole on hover, focus and in a copy.
  function showHash(element, hash) {
    element.textContent = hash;
    element.title = hash;
  }

  function renderProof(ledger, center) {
    $("proof").hidden = !ledger;
    if (!ledger) return;
    const { today, sealed, download } = ledger;
    const entries = (chain) => tn("public.proof_entries", chain.entries, { day: chain.day });
    $("proof-today-entries").textContent = entries(today);
    showHash($("proof-today-head"), today.head);
    $("proof-sealed").hidden = !sealed;
    $("proof-sealed-none").hidden = Boolean(sealed);
    if (sealed) {
      $("proof-sealed-entries").textContent = entries(sealed);
      showHash($("proof-sealed-head"), sealed.head);
      $("proof-signature").textContent = sealed.signature;
    }
    // The key that signed the last seal: none before the first, nor anything to check.
    const key = ledger.public_key;
    for (const id of ["proof-key-label", "proof-key-row", "proof-check", "proof-check-command"]) {
      $(id).hidden = !key;
    }
    $("proof-key").textContent = key || "";
    $("proof-key-id").textContent = ledger.key_id || "";
    // The file a download saves, and the command that checks it: the sealed day when
    // there is one (today's chain is signed only once the day is sealed).
    const file = (day) => `novbe-ledger-${center}-${day}.jsonl`; // as the server names it
    const todayLink = $("proof-download-today");
    todayLink.href = download.today;
    todayLink.download = file(today.day);
    todayLink.textContent = t("public.proof_download_today");
    const sealedLink = $("proof-download-sealed");
    sealedLink.hidden = !(sealed && download.sealed);
    if (sealed && download.sealed) {
      sealedLink.href = download.sealed;
      sealedLink.download = file(sealed.day);
      sealedLink.textContent = t("public.proof_download_sealed", { day: sealed.day });
    }
    const day = sealed ? sealed.day : today.day;
    $("proof-command").textContent = `novbe verify-ledger --file ${file(day)} --public-key ${key}`;
  }

  // The hall's occupancy now (a count, nobody's ticket), when the center has a capacity.
  function renderHall(hall) {
    $("hall").hidden = !hall;
    if (!hall) return;
    $("hall-present").textContent = String(hall.present);
    $("hall-capacity").textContent = String(hall.capacity);
    $("hall").classList.toggle("full", hall.full);
    $("hall-note").textContent = hall.full ? t("hall.full_note") : t("hall.room_note");
  }

  function renderBooking(booking) {
    $("booking").hidden = !booking;
    if (!booking) return;
    $("booking-link").href = `${booking.url}?lang=${Novbe.language}`;
    // data-i18n too: a change of language re-reads it.
    const key = booking.join ? "appointments.book_or_join" : "appointments.book";
    $("booking-link").dataset.i18n = key;
    $("booking-link").textContent = t(key);
  }

  // The ordering rules in plain words: literal keys, so that `make words` finds them.
  function renderRules(rules) {
    $("rules").hidden = !rules;
    if (!rules) return;
    const lines = [t("rules.order")];
    lines.push(
      rules.call_policy === "strict"
        ? t("rules.priority_strict")
        : t("rules.priority_ratio", { n: rules.priority_ratio }),
    );
    const a = rules.appointments;
    if (a) {
      lines.push(t("rules.appointment_order", { lead: a.lead_min }));
      if (rules.call_policy === "strict") lines.push(t("rules.appointment_priority"));
      lines.push(
        a.checkin_early_min !== null && a.late_grace_min !== null
          ? t("rules.appointment_window", { early: a.checkin_early_min, grace: a.late_grace_min })
          : t("rules.appointment_window_varies"),
      );
      if (a.after_grace === "walk_in") lines.push(t("rules.after_grace_walk_in"));
      else if (a.after_grace === "refuse") lines.push(t("rules.after_grace_refuse"));
      else lines.push(t("rules.after_grace_varies")); // the services differ
      lines.push(t("rules.appointment_no_show"));
    }
    if (rules.absent) lines.push(t("rules.absent", { hold: rules.absent.hold_min }));
    $("rules-list").replaceChildren(...lines.map((line) => el("li", {}, line)));
  }

  function renderServices(services) {
    const rows = services.map((service) =>
      el(
        "tr",
        { dataset: { service: service.service } },
        el("th", { scope: "row" }, Novbe.named(service.name)),
        el("td", { class: "num waiting" }, String(service.waiting)),
        el("td", { class: "num wait" }, Novbe.waitText(service.estimated_wait_s)),
      ),
    );
    if (!rows.length) {
      rows.push(el("tr", {}, el("td", { colspan: 3, class: "muted" }, t("public.no_services"))));
    }
    $("services").replaceChildren(...rows);
  }

  function show(data) {
    state.data = data;
    render();
  }

  // ---- start ----------------------------------------------------------------------------

  function setLanguage(lang) {
    Novbe.setLanguage(lang);
    document.querySelectorAll(".public-languages button").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    });
    document.querySelector(".public-languages").setAttribute("aria-label", t("public.language"));
    render();
  }

  function start() {
    setLanguage(page.language);
    document.querySelectorAll(".public-languages button").forEach((button) => {
      button.addEventListener("click", () => setLanguage(button.dataset.lang));
    });
    if (!page.center) return; // unknown center: the page says so, nothing to follow
    const code = encodeURIComponent(page.center);
    // The live snapshot brings the same data; the fetch only makes the first paint fast.
    Novbe.api("GET", `/api/v1/public/centers/${code}`).then(
      (data) => state.data || show(data),
      () => {},
    );
    Novbe.live(
      { public: page.center },
      { snapshot: show, "public.stats": show },
      { onStatus: Novbe.statusBanner($("connection")) },
    );
  }

  start();
  return { state };
})();
