// The visitor's phone page (/t/<tracking token>), opened from the ticket's QR code:
// number, place in line and estimated wait, live; when a counter calls the ticket,
// a full-screen "go to counter N" with a beep and a buzz where the phone allows; a line
// that says what to do now for each state of the ticket. The live channel keeps trying
// for as long as it takes (live_keeper.js).
"use strict";

const Phone = (() => {
  const { t, el } = Novbe;
  const $ = (id) => document.getElementById(id);
  const ENDED = ["done", "no_show", "cancelled", "expired"];
  // No call can come any more, or none before the visit at the counter ends.
  const NO_CALL = [...ENDED, "serving"];
  const TRAVEL_KEY = "novbe.travel_min"; // the visitor's travel time, kept on the phone

  const state = {
    ticket: null, // the public ticket JSON, merged with every update
    center: null,
    alerted: null, // the call we last beeped for: one alert per call or recall
    // Sent back to the queue from a counter (a transfer), until called again. Seen
    // only as it happens: a ticket read afresh says "waiting" like any other.
    transferred: false,
    link: "connecting", // the live channel: "connecting", "online", "offline", "refused"
    refusal: null, // the refusal's code, when the server sent one
    dismissed: null, // the call the visitor acknowledged with "On my way"
    // After the visit: whether the server was asked, whether it lets this ticket be
    // rated, the score given (null until then), and the send in flight or failed.
    rating: { asked: false, canRate: false, score: null, sending: false, failed: false },
  };

  // A call is identified by when it happened (a recall moves that time), so a recall
  // alerts again while a reconnect's snapshot of the same call does not.
  function callKey(ticket) {
    return ticket.called_at;
  }

  // ---- drawing ----------------------------------------------------------------------

  function render() {
    const ticket = state.ticket;
    if (!ticket) return;
    $("center-name").textContent = state.center ? Novbe.named(state.center.name) : "";
    $("number").textContent = ticket.number;
    // A longer number (three-letter prefixes) in smaller type: it stays on one line.
    $("number").dataset.length = ticket.number.length > 4 ? "long" : "short";
    $("service").textContent = Novbe.named(ticket.service && ticket.service.name);
    const status = $("status");
    status.dataset.status = ticket.status;
    status.textContent = t(`status.${ticket.status}`);

    const waiting = ticket.status === "waiting";
    $("place").hidden = !waiting;
    $("position").textContent = ticket.position ?? "–";
    $("wait").textContent = Novbe.waitText(ticket.estimated_wait_s);
    $("next").hidden = !(waiting && ticket.position === 1);
    renderAppointment(ticket);

    const label = ticket.counter && ticket.counter.label;
    $("counter").hidden = !label || !["called", "serving"].includes(ticket.status);
    $("counter").textContent = label ? t("phone.at_counter", { counter: label }) : "";

    const hint = $("hint");
    hint.dataset.state = hintState(ticket);
    hint.textContent = hintText(ticket);
    renderArrival(ticket);
    // Absent (not checked in): no call can come before the kiosk, so no sound yet.
    $("sound").hidden = NO_CALL.includes(ticket.status) || Boolean(ticket.absent);
    renderSoundButton();
    renderCall();
    if (ticket.status === "done") loadRating();
    renderRating();
    document.title = `${ticket.number} · ${t("app.name")}`;
    // The opt-in block (phone_notify.js) follows the ticket and the language.
    document.dispatchEvent(new CustomEvent("phone:render", { detail: ticket }));
  }

  // ---- not checked in yet (remote and outside tickets) -------------------------------
  // The place is held; the ticket is called only after its QR is scanned at a kiosk.
  // Remote: "leave now" once the estimated wait is no longer than the travel time the
  // visitor set; outside: "come in now" exactly when a check-in would be taken: the hall
  // has room, the estimated wait is the server's come_in_s or less, or the line has
  // passed over it (docs/queue.md).

  function travelMinutes() {
    const value = Number.parseInt(localStorage.getItem(TRAVEL_KEY) ?? "", 10);
    return Number.isFinite(value) && value >= 0 ? value : null;
  }

  function arrivalAdvice(ticket) {
    const wait = ticket.estimated_wait_s;
    const known = wait !== null && wait !== undefined;
    if (ticket.kind === "outside") {
      const { hall_room: room, come_in_s: comeIn, passed_at: passed } = ticket.absent;
      const soon = known && comeIn != null && wait <= comeIn;
      if (room || soon || passed) return ["now", t("remote.come_in")];
      return ["wait", t("remote.wait_outside")];
    }
    const travel = travelMinutes();
    if (travel === null) return ["ask", t("remote.set_travel")];
    if (known && wait <= travel * 60) return ["now", t("remote.leave_now")];
    if (!known) return ["wait", t("remote.wait_unknown")];
    return ["wait", t("remote.leave_in", { n: Math.max(1, Math.round(wait / 60 - travel)) })];
  }

  function renderArrival(ticket) {
    const absent = ticket.status === "waiting" && ticket.absent;
    const section = $("arrival");
    section.hidden = !absent;
    document.body.classList.toggle("is-absent", Boolean(absent));
    if (!absent) return;
    const outside = ticket.kind === "outside";
    const [advice, text] = arrivalAdvice(ticket);
    // "The hall is full: wait outside" only while that is the advice: not over "come in".
    const waitOutside = outside && advice === "wait";
    $("arrival-title").textContent = t(waitOutside ? "remote.outside_title" : "remote.title");
    $("arrival-advice").dataset.advice = advice;
    $("arrival-advice").textContent = text;
    const passed = ticket.absent.hold_until;
    $("arrival-passed").hidden = !passed;
    $("arrival-passed").textContent = passed
      ? t("remote.passed", { time: centerTime(passed, ticket.timezone) })
      : "";
    $("travel-row").hidden = outside;
    const qr = $("arrival-qr");
    const src = `/api/v1/tickets/${encodeURIComponent(Novbe.page.ticket)}/qr.svg`;
    if (qr.getAttribute("src") !== src) qr.setAttribute("src", src);
    qr.alt = t("remote.qr_alt");
  }

  // A checked-in appointment before its slot: called from then, not at once.
  function renderAppointment(ticket) {
    const at = ticket.kind === "appointment" && ticket.status === "waiting" && ticket.appointment_at;
    const upcoming = Boolean(at) && Date.parse(at) > Date.now();
    $("appointment").hidden = !upcoming;
    $("appointment").textContent = upcoming
      ? t("checkin.appointment_note", { time: centerTime(at, ticket.timezone) })
      : "";
  }

  // A time the server sent (UTC) as the center's clocks show it, whatever the phone's
  // zone; 24-hour in every language (the kiosk's way: Chromium has no "az" locale data).
  function centerTime(iso, zone) {
    const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    try {
      return new Date(iso).toLocaleTimeString("en-GB", { ...options, timeZone: zone });
    } catch {
      return new Date(iso).toLocaleTimeString("en-GB", options);
    }
  }

  function hintState(ticket) {
    return ticket.status === "waiting" && state.transferred ? "transferred" : ticket.status;
  }

  // What to do now, in a sentence.
  function hintText(ticket) {
    const counter = ticket.counter ? ticket.counter.label : "–";
    switch (hintState(ticket)) {
      case "waiting":
        return t(ticket.absent ? "remote.hint" : "phone.hint.waiting");
      case "transferred":
        return t("phone.hint.transferred");
      case "called":
        return t("phone.hint.called", { counter });
      case "serving":
        return t("phone.hint.serving", { counter });
      case "parked":
        return t("phone.hint.parked");
      case "done":
        return t("phone.hint.done");
      case "no_show":
        return t("phone.hint.no_show");
      case "cancelled":
        return t("phone.hint.cancelled");
      case "expired":
        return t("phone.hint.expired");
      default:
        return "";
    }
  }

  // The connection banner, in the page's language; a refusal in its own words (the
  // server's message is English, for developers).
  function renderConnection() {
    const banner = $("connection");
    let text = null;
    if (state.link === "offline") text = t("conn.lost");
    if (state.link === "refused") text = t(LiveKeeper.refusalKey(state.refusal, "phone.refused"));
    banner.hidden = !text;
    banner.dataset.status = state.link;
    banner.textContent = text || "";
  }

  function setLink(link, refusal = null) {
    state.link = link;
    state.refusal = refusal;
    renderConnection();
  }

  function renderCall() {
    const ticket = state.ticket;
    const called = ticket.status === "called" && ticket.counter;
    const call = $("call");
    call.hidden = !called || state.dismissed === callKey(ticket);
    document.body.classList.toggle("is-called", !call.hidden);
    if (!called) return;
    // "Go to counter {counter}", with the counter label set apart in huge type.
    const [before, after = ""] = t("phone.go_to_counter").split("{counter}");
    $("call-where").replaceChildren(
      before,
      el("span", { class: "call-counter" }, ticket.counter.label),
      after,
    );
    $("call-number").textContent = ticket.number;
    $("call-again").hidden = !ticket.recall_count;
    document.title = t("phone.go_to_counter", { counter: ticket.counter.label });
  }

  // ---- the rating, once the visit is over ----------------------------------------------
  // 1 to 5 stars, one rating per ticket and final (server/ratings.py): after it the
  // page only thanks. The server says whether this ticket may still be rated, so a
  // reload after rating does not ask again.

  const ratingPath = () => `/api/v1/tickets/${encodeURIComponent(Novbe.page.ticket)}/rating`;

  function loadRating() {
    const rating = state.rating;
    if (rating.asked) return;
    rating.asked = true;
    Novbe.api("GET", ratingPath()).then(
      (body) => {
        rating.canRate = body.can_rate;
        rating.score = body.rating ? body.rating.score : null;
        renderRating();
      },
      () => {
        rating.asked = false; // no answer: asked again at the next update or reconnect
      },
    );
  }

  function renderRating() {
    const rating = state.rating;
    const rated = rating.score !== null;
    const done = state.ticket && state.ticket.status === "done";
    $("rating").hidden = !(done && (rating.canRate || rated));
    $("rating-ask").hidden = rated;
    $("rating-thanks").hidden = !rated;
    $("rating-thanks").textContent = rated ? t("phone.rate_thanks", { n: rating.score }) : "";
    $("rating-error").hidden = !rating.failed;
    document.querySelectorAll(".rating-score").forEach((button) => {
      button.disabled = rating.sending;
      button.setAttribute("aria-label", t("phone.rate_star", { n: button.dataset.score }));
    });
  }

  async function sendRating(score) {
    const rating = state.rating;
    if (rating.sending || rating.score !== null) return;
    rating.sending = true;
    rating.failed = false;
    renderRating();
    try {
      rating.score = (await Novbe.api("POST", ratingPath(), { body: { score } })).score;
    } catch (err) {
      // Rated already (from another tab): the server names the score; thank for that one.
      const details = err.body && err.body.error && err.body.error.details;
      if (err.status === 409 && details && details.score) rating.score = details.score;
      else rating.failed = true;
    } finally {
      rating.sending = false;
      renderRating();
    }
  }

  // ---- sound and vibration ------------------------------------------------------------
  // Phones only play sound after the visitor touched the page once: the first touch
  // (or the sound button) unlocks the audio, and every call after that beeps.

  let audio = null;

  function unlockAudio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume().then(renderSoundButton, () => {});
    return audio;
  }

  function renderSoundButton() {
    const on = audio && audio.state === "running";
    $("sound").textContent = on ? t("phone.sound_ready") : t("phone.sound_on");
    $("sound").setAttribute("aria-pressed", String(Boolean(on)));
  }

  // Three short high tones: audible in a noisy hall, not alarming.
  function beep() {
    const context = unlockAudio();
    if (!context || context.state !== "running") return false;
    const start = context.currentTime + 0.05;
    for (let i = 0; i < 3; i += 1) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = 880;
      const at = start + i * 0.35;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.6, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.25);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.3);
    }
    return true;
  }

  function alertVisitor() {
    const key = callKey(state.ticket);
    if (state.alerted === key) return;
    state.alerted = key;
    const call = $("call");
    call.dataset.sound = beep() ? "played" : "blocked";
    // Browsers allow vibration only after a touch on the page; otherwise it is a no-op.
    const buzzed = navigator.vibrate ? navigator.vibrate([400, 200, 400, 200, 800]) : null;
    call.dataset.vibrate = String(buzzed);
  }

  // ---- the live channel -------------------------------------------------------------------

  function onSnapshot(snapshot) {
    state.center = snapshot.center;
    follow(snapshot.ticket.status);
    state.ticket = snapshot.ticket;
    setLink("online");
    render();
    if (state.ticket.status === "called") alertVisitor();
  }

  // The ticket room sends either the whole public ticket or {status, position,
  // estimated_wait_s} when only the place in line moved: merge both.
  function onUpdated(data) {
    if (!state.ticket) return;
    follow(data.status);
    Object.assign(state.ticket, data);
    render();
  }

  function onCalled(call) {
    if (!state.ticket) return;
    follow("called");
    Object.assign(state.ticket, {
      status: "called",
      counter: { label: call.counter },
      called_at: call.called_at,
      recall_count: call.recall_count,
      position: null,
      estimated_wait_s: null,
    });
    render();
    alertVisitor();
  }

  // A transfer is a ticket back in the queue from a counter; any other change ends it.
  function follow(status) {
    const before = state.ticket && state.ticket.status;
    if (!status || status === before) return;
    state.transferred = status === "waiting" && ["called", "serving"].includes(before);
  }

  // ---- start ----------------------------------------------------------------------------

  function setLanguage(lang) {
    Novbe.setLanguage(lang);
    document.querySelectorAll(".phone-languages button").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    });
    document.querySelector(".phone-languages").setAttribute("aria-label", t("phone.language"));
    render();
    renderConnection();
  }

  function start() {
    setLanguage(Novbe.page.language);
    document.querySelectorAll(".phone-languages button").forEach((button) => {
      button.addEventListener("click", () => setLanguage(button.dataset.lang));
    });
    document.addEventListener("pointerdown", unlockAudio, { capture: true, passive: true });
    $("sound").addEventListener("click", () => {
      unlockAudio();
      renderSoundButton();
    });
    document.querySelectorAll(".rating-score").forEach((button) => {
      button.addEventListener("click", () => sendRating(Number(button.dataset.score)));
    });
    const travel = $("travel");
    travel.value = travelMinutes() ?? "";
    travel.addEventListener("input", () => {
      const minutes = Number.parseInt(travel.value, 10);
      if (Number.isFinite(minutes) && minutes >= 0 && minutes <= 240) {
        localStorage.setItem(TRAVEL_KEY, String(minutes));
      } else if (travel.value === "") localStorage.removeItem(TRAVEL_KEY);
      render();
    });
    $("call-ok").addEventListener("click", () => {
      state.dismissed = callKey(state.ticket);
      renderCall();
    });
    const socket = Novbe.live(
      { ticket: Novbe.page.ticket },
      { snapshot: onSnapshot, "ticket.updated": onUpdated, "ticket.called": onCalled },
      // "online" waits for the snapshot; a refusal comes with its code below.
      { onStatus: (status) => status === "offline" && setLink("offline") },
    );
    // A refusal is the server full or the ticket gone: asked again now and then.
    LiveKeeper.keep(socket, {
      maxDelayMs: 10_000,
      refusedRetryMs: 30_000,
      onRefused: (code) => setLink("refused", code),
    });
  }

  start();
  return { state };
})();
