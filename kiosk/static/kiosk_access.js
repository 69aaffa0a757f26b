// The kiosk's accessibility mode (EN 301 549 closed functionality: the kiosk works for a
// visitor who cannot see or reach the screen, with nothing of their own). It starts
// without already needing it: the ✱ key of a USB keypad (NumpadMultiply, or "*"), F1,
// holding Enter for 2 s, the large "voice guidance" button low on the start screen, or a
// 2 s press anywhere on the start screen. Then every screen is read aloud in the chosen
// language (its title, the focused item, how to use the keys) by the server's espeak-ng
// (GET kiosk-speech.wav: only the kiosk's words, the center's names and ticket numbers
// can be said), the keypad moves the focus (arrows or Tab), Enter confirms, Backspace
// goes back and ✱ repeats; text is larger and in high contrast (body.access); time-outs
// are three times longer with a spoken warning before they end; the ticket number is
// spoken digit by digit and repeated. The mode ends with every return to the start
// screen (the visitor's "done", or idle once they have gone): the next visitor meets the
// ordinary kiosk. Kiosk.spoken logs every phrase asked for and the server's text of it.
"use strict";

(() => {
  const K = Kiosk;
  const { $, state, LANGUAGES } = K;

  const TIME_FACTOR = 3; // the mode's time-outs, times the ordinary ones
  const HOLD_MS = 2000; // holding Enter, or a finger on the start screen, starts the mode
  const HOLD_SLOP_PX = 24; // a finger that moves further is scrolling, not holding
  const START_KEYS = ["*", "F1"]; // "*": the keypad's ✱ (NumpadMultiply) or Shift+8
  const FETCH_MS = 8000;
  const PLAY_SLACK_MS = 1500; // past a clip's length: its "ended" was lost

  let on = false;
  const spoken = []; // {language, say, text}: text is the server's, null until it answers
  let generation = 0; // bumped by stop(): phrases of an older generation are not played
  let playing = null; // {audio, done}: the phrase being played
  let speaking = false; // time-outs wait for the end of what is being said
  let lastSaid = []; // the current screen's phrases, which ✱ says again

  // ---- speech ---------------------------------------------------------------------------

  function speechUrl({ language, say }) {
    const query = new URLSearchParams({ language });
    for (const piece of say) query.append("say", piece);
    const center = encodeURIComponent(state.snapshot.center.code);
    return `/api/v1/centers/${center}/kiosk-speech.wav?${query}`;
  }

  // Fetched at once (so the log and the cache fill without waiting for playback), played
  // one after another.
  async function fetchSpeech(utterance, entry) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_MS);
    try {
      const response = await fetch(speechUrl(utterance), {
        headers: { Authorization: `Bearer ${state.token}` },
        signal: controller.signal,
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      entry.text = decodeURIComponent(response.headers.get("X-Spoken-Text") || "");
      return await response.blob();
    } catch (err) {
      entry.error = String(err);
      console.warn("kiosk speech failed", err);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  function play(blob) {
    return new Promise((resolve) => {
      const audio = new Audio(URL.createObjectURL(blob));
      let timer = null;
      const done = () => {
        clearTimeout(timer);
        URL.revokeObjectURL(audio.src);
        playing = null;
        resolve();
      };
      playing = { audio, done };
      audio.onended = done;
      audio.onerror = done;
      audio.onloadedmetadata = () => {
        const ms = Number.isFinite(audio.duration) ? audio.duration * 1000 : 30_000;
        timer = setTimeout(done, ms + PLAY_SLACK_MS);
      };
      audio.play().catch(done);
    });
  }

  // Says the phrases in order, cutting short whatever was being said.
  async function say(utterances) {
    stop();
    const mine = generation;
    speaking = true;
    const fetched = utterances.map((utterance) => {
      const entry = { ...utterance, text: null };
      spoken.push(entry);
      return fetchSpeech(utterance, entry);
    });
    for (const blob of fetched) {
      const audio = await blob;
      if (mine !== generation) return;
      if (audio) await play(audio);
      if (mine !== generation) return;
    }
    speaking = false;
    K.armIdle(); // the time-out counts from the end of what was said
  }

  function stop() {
    generation += 1;
    speaking = false;
    if (playing) {
      playing.audio.pause();
      playing.done();
    }
  }

  // ---- what a screen and a button say -------------------------------------------------

  function section() {
    return document.querySelector(`section[data-screen="${state.screen}"]`);
  }

  // The buttons the keypad moves through, in the screen's order.
  function items() {
    const here = section();
    if (!here) return [];
    return [...here.querySelectorAll("button")].filter(
      (b) => !b.disabled && b.id !== "access-start" && b.checkVisibility(),
    );
  }

  function describe(button) {
    const language = Novbe.language;
    const data = button.dataset;
    if (data.lang) return { language: data.lang, say: [`k:lang.${data.lang}`] };
    if (data.category) return { language, say: [`category:${data.category}`] };
    if (data.service) return { language, say: [`service:${data.service}`] };
    if (data.priority) {
      const chosen = button.getAttribute("aria-pressed") === "true";
      return {
        language,
        say: [
          "k:kiosk.access.priority",
          `k:priority.${data.priority}`,
          chosen ? "k:kiosk.access.selected" : "k:kiosk.access.not_selected",
        ],
      };
    }
    if (data.i18n) return { language, say: [`k:${data.i18n}`] };
    return null;
  }

  function firstItem() {
    const list = items();
    if (state.screen === "service") {
      return list.find((b) => b.dataset.service) || list[0];
    }
    return list[0];
  }

  function screenWords(focused) {
    const language = Novbe.language;
    const item = focused ? describe(focused) : null;
    const howTo = { language, say: ["k:kiosk.access.instructions"] };
    const titled = (...keys) =>
      [{ language, say: keys.map((k) => `k:${k}`) }, item, howTo].filter(Boolean);
    switch (state.screen) {
      case "start":
        // Nobody has chosen a language yet: all three, then the focused one.
        return [
          ...LANGUAGES.map((lang) => ({
            language: lang,
            say: ["k:kiosk.access.on", "k:kiosk.choose_language", "k:kiosk.access.instructions"],
          })),
          item,
        ].filter(Boolean);
      case "category":
        return titled("kiosk.choose_category");
      case "service": {
        // A refused ticket brings the visitor back here: why, first.
        const problem = $("service-problem");
        return problem.hidden
          ? titled("kiosk.choose_service")
          : titled(problem.dataset.key, "kiosk.choose_service");
      }
      case "unreachable":
        return titled("kiosk.unreachable_title", "kiosk.unreachable_text");
      case "offline":
        return [{ language, say: ["k:kiosk.offline_title", "k:kiosk.offline_text"] }];
      case "ticket":
        return ticketWords();
      default:
        return [];
    }
  }

  // The number digit by digit, then once more, then the service and what the keys do.
  function ticketWords() {
    const language = Novbe.language;
    const app = $("app");
    const number = `number:${app.dataset.ticket}`;
    const service = app.dataset.ticketService ? [`service:${app.dataset.ticketService}`] : [];
    return [
      { language, say: ["k:kiosk.your_number", number, "k:kiosk.access.repeat", number, ...service] },
      { language, say: ["k:kiosk.access.ticket_help"] },
    ];
  }

  // A screen was shown (kiosk_screens.js): focus its first item and read it out.
  function onShown() {
    if (!on) return;
    const focused = firstItem();
    if (focused) focused.focus();
    lastSaid = screenWords(focused);
    say(lastSaid);
  }

  function move(step) {
    const list = items();
    if (!list.length) return;
    const at = list.indexOf(document.activeElement);
    const next = at < 0 ? list[0] : list[(at + step + list.length) % list.length];
    next.focus();
    const words = describe(next);
    if (words) say([words]);
  }

  function activate() {
    const focused = document.activeElement;
    if (!items().includes(focused)) {
      move(0);
      return;
    }
    focused.click();
    // A priority chip stays on its screen: say whether it is now chosen.
    if (focused.dataset.priority && focused.isConnected) {
      focused.focus();
      say([describe(focused)]);
    }
  }

  function back() {
    const button = section() && section().querySelector("[data-back]");
    if (!button || !button.checkVisibility()) return;
    if (button.dataset.back === "start") {
      K.reset(); // ends the mode for a new visitor, but this visitor is still here
      start();
    } else {
      button.click();
    }
  }

  // ---- on and off -----------------------------------------------------------------------

  function start() {
    if (on || !state.snapshot || !K.canIssue()) return;
    on = true;
    document.body.classList.add("access");
    K.armIdle();
    onShown();
  }

  function leave() {
    if (!on) return;
    on = false;
    stop();
    lastSaid = [];
    document.body.classList.remove("access");
    if (document.activeElement && document.activeElement !== document.body) {
      document.activeElement.blur();
    }
  }

  // Spoken before a time-out of the mode ends (kiosk_screens.js arms it).
  function warnIdle() {
    if (on) say([{ language: Novbe.language, say: ["k:kiosk.access.timeout_warning"] }]);
  }

  // ---- keys and the long press ------------------------------------------------------------

  let enterHold = null;
  let pressHold = null;
  let swallowClickUntil = 0;

  function onKeyDown(event) {
    if (!on) {
      if (START_KEYS.includes(event.key)) {
        event.preventDefault();
        start();
      } else if (event.key === "Enter" && !event.repeat) {
        clearTimeout(enterHold);
        enterHold = setTimeout(start, HOLD_MS);
      }
      return;
    }
    const forward = ["ArrowDown", "ArrowRight"].includes(event.key);
    const backward = ["ArrowUp", "ArrowLeft"].includes(event.key);
    if (forward || backward || event.key === "Tab") {
      move(backward || (event.key === "Tab" && event.shiftKey) ? -1 : 1);
    } else if (event.key === "Enter" || event.key === " ") {
      if (!event.repeat) activate();
    } else if (event.key === "Backspace") {
      back();
    } else if (START_KEYS.includes(event.key)) {
      say(lastSaid);
    } else {
      return; // any other key only keeps the screen (kiosk.js re-arms the time-out)
    }
    event.preventDefault();
  }

  function onKeyUp(event) {
    if (event.key === "Enter") clearTimeout(enterHold);
  }

  function onPointerDown(event) {
    if (on || state.screen !== "start") return;
    const { clientX: x, clientY: y } = event;
    clearTimeout(pressHold);
    pressHold = setTimeout(() => {
      pressHold = null;
      swallowClickUntil = Date.now() + 1500; // lifting the finger is not a tap
      start();
    }, HOLD_MS);
    const cancel = (e) => {
      if (e.type === "pointermove" && Math.hypot(e.clientX - x, e.clientY - y) < HOLD_SLOP_PX) {
        return;
      }
      clearTimeout(pressHold);
      for (const type of ["pointerup", "pointercancel", "pointermove"]) {
        document.removeEventListener(type, cancel, true);
      }
    };
    for (const type of ["pointerup", "pointercancel", "pointermove"]) {
      document.addEventListener(type, cancel, true);
    }
  }

  function onClick(event) {
    if (Date.now() < swallowClickUntil) {
      swallowClickUntil = 0;
      event.preventDefault();
      event.stopPropagation();
    }
  }

  function wireAccess() {
    document.addEventListener("keydown", onKeyDown, true);
    document.addEventListener("keyup", onKeyUp, true);
    document.addEventListener("pointerdown", onPointerDown, true);
    document.addEventListener("click", onClick, true);
    $("access-start").addEventListener("click", start);
  }

  Object.assign(K, {
    spoken,
    ACCESS_TIME_FACTOR: TIME_FACTOR,
    accessOn: () => on,
    accessSpeaking: () => on && speaking,
    startAccess: start,
    leaveAccess: leave,
    warnIdle,
    onShown,
    wireAccess,
  });
})();
