// The waiting-room display's sound: for each call a chime, then the announcement
// ("Ticket A, 0 1 2, counter 3") spoken in the ticket's language by the browser's
// voice, else the server's recording of it. One announcement at a time, in order of
// arrival. Where the browser allows no sound until someone presses a key or taps the
// screen, the #sound button in the header asks for that.
"use strict";

(() => {
  const D = NovbeDisplay;
  const { $, state, page, sleep } = D;
  const MAX_PENDING = 6; // announcements waiting their turn; in a burst the oldest go
  const ANNOUNCE_GAP_MS = 500; // silence between two announcements
  const SPEECH_LANGS = { az: "az-AZ", ru: "ru-RU", en: "en-US" };

  // Chromium on a TV should run with --autoplay-policy=no-user-gesture-required;
  // without it, sound starts only after one tap, which this button asks for.
  function soundBlocked(blocked) {
    $("sound").hidden = !blocked;
  }

  // ---- the chime -----------------------------------------------------------------
  const chime = (() => {
    let context = null; // one for the page's life: browsers cap how many may exist

    function audio() {
      const AudioContextClass = window.AudioContext || window.webkitAudioContext;
      if (!AudioContextClass) return null;
      if (!context) context = new AudioContextClass();
      return context;
    }

    function tone(ac, frequency, at, seconds) {
      const oscillator = ac.createOscillator();
      const gain = ac.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + seconds);
      oscillator.connect(gain).connect(ac.destination);
      oscillator.onended = () => {
        oscillator.disconnect();
        gain.disconnect();
      };
      oscillator.start(at);
      oscillator.stop(at + seconds + 0.05);
    }

    // Whether sound may play; where it may not, the #sound button asks for a tap
    // (the browser wants one first).
    async function ready() {
      const ac = audio();
      if (!ac) return false; // no Web Audio at all: nothing a tap would change
      if (ac.state !== "running") {
        await Promise.race([ac.resume().catch(() => {}), sleep(300)]);
      }
      if (ac.state !== "running") soundBlocked(true);
      return ac.state === "running";
    }

    // Three falling tones (G5 E5 C5), the familiar "attention" chime. Resolves when
    // it has finished, so the voice never talks over it.
    async function play() {
      if (!(await ready())) return;
      const ac = audio();
      const start = ac.currentTime + 0.05;
      tone(ac, 784, start, 0.6);
      tone(ac, 659, start + 0.35, 0.6);
      tone(ac, 523, start + 0.7, 0.8);
      await sleep(1300); // the last tone's tail is faint enough to speak over
    }

    function unlock() {
      const ac = audio();
      if (ac && ac.state !== "running") ac.resume().catch(() => {});
    }

    return { ready, play, unlock };
  })();

  // ---- the words spoken ------------------------------------------------------------

  // The number as it is spoken: letters, a comma, then digit by digit, e.g. "A, 0 1 2".
  // Digit by digit matches what is printed on the paper ticket and on the screen,
  // character for character, so a visitor compares without arithmetic; it also avoids
  // each voice's own habit with leading zeros ("twelve", "zero twelve", "oh twelve"),
  // and single digits are the words every voice pronounces best. The comma makes a
  // short pause after the letter, so an English voice reads "A" as a letter, not as
  // the article, and letters that sound alike (B, D) are not run into the digits.
  function spokenNumber(number) {
    const match = String(number).match(/^([A-Za-z]*)(\d*)$/);
    if (!match) return String(number);
    const [, letters, digits] = match;
    const parts = [letters.split("").join(" "), digits.split("").join(" ")].filter(Boolean);
    return parts.join(", ");
  }

  function announcementFor(call) {
    const lang = D.LANGS.includes(call.language) ? call.language : state.primary;
    return {
      text: D.tIn(lang, "announce.call", {
        number: spokenNumber(call.number),
        counter: call.counter,
      }),
      lang: SPEECH_LANGS[lang],
      number: call.number,
      counter: call.counter,
    };
  }

  // ---- the browser's voice -----------------------------------------------------------

  // A voice for the language; Azerbaijani voices are rare, and a Turkish voice reads
  // Azerbaijani text (and its digits: sıfır, bir, iki...) nearly as a native would.
  function pickVoice(voices, tag) {
    const base = tag.slice(0, 2).toLowerCase();
    const starts = (prefix) => voices.find((v) => (v.lang || "").toLowerCase().startsWith(prefix));
    return (
      voices.find((v) => v.lang === tag) ||
      starts(base) ||
      (base === "az" ? starts("tr") : null) ||
      null
    );
  }

  let speaking = null; // the current utterance: Chrome drops the events of collected ones

  // Resolves true once spoken (or given up on after a time-out: some engines never
  // fire `end`), false when this browser cannot say it, so the fallback may.
  function speak({ text, lang }) {
    const synth = window.speechSynthesis;
    if (!synth || typeof window.SpeechSynthesisUtterance !== "function") {
      return Promise.resolve(false);
    }
    const voices = synth.getVoices() || [];
    const voice = pickVoice(voices, lang);
    // Only voices for other languages: better the fallback than a garbled name.
    if (voices.length && !voice) return Promise.resolve(false);
    return new Promise((resolve) => {
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = lang;
      if (voice) utterance.voice = voice;
      utterance.rate = 0.9; // a hall echoes; a little slower carries better
      let timer = null;
      const finish = (spoken) => {
        if (speaking !== utterance) return;
        speaking = null;
        clearTimeout(timer);
        resolve(spoken);
      };
      utterance.onend = () => finish(true);
      utterance.onerror = (event) => {
        if (event.error === "not-allowed") soundBlocked(true);
        finish(false);
      };
      timer = setTimeout(() => {
        synth.cancel(); // stuck engine: reset it so the next announcement can start
        finish(true);
      }, 5000 + text.length * 150);
      if (synth.speaking || synth.pending) synth.cancel(); // nothing of ours is playing
      speaking = utterance;
      synth.speak(utterance);
    });
  }

  // ---- the server's voice ------------------------------------------------------------

  // Where this browser cannot speak (no speechSynthesis, or no voice for the
  // language): the server's recording of the same phrase, made with espeak-ng from
  // the same words (GET /api/v1/centers/{center}/announcement.wav). Only
  // the number, counter and language go to the server, never the text. Resolves once
  // it has been played, or at once when there is nothing to play (server without a
  // voice, network down): the chime alone has then done what it could.
  const VOICE_FETCH_MS = 8000; // a phrase is rendered in well under a second
  let voiceAudio = null; // one element for the page's life, reused for every phrase

  async function voiceFallback({ lang, number, counter }) {
    const language = String(lang).slice(0, 2);
    const token = Novbe.deviceToken(`novbe.display.${page.device}`);
    if (!state.center || !token || !D.LANGS.includes(language)) return;
    const query = new URLSearchParams({ number, counter, language });
    const path = `/api/v1/centers/${encodeURIComponent(state.center.code)}/announcement.wav`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), VOICE_FETCH_MS);
    let blob;
    try {
      // fetch, not <audio src>: an audio element cannot send the device token.
      // The answer may be kept by the browser for the day, so a recall is instant.
      const response = await fetch(`${path}?${query}`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: controller.signal,
      });
      if (!response.ok) {
        console.warn("server voice refused", response.status, await response.text());
        return;
      }
      blob = await response.blob();
    } catch (err) {
      console.warn("server voice unreachable", err);
      return;
    } finally {
      clearTimeout(timer);
    }
    await playAudio(blob);
  }

  // Resolves when the sound has ended or cannot play. The blob's URL is freed either
  // way, so weeks of calls keep no audio in memory; a phrase still playing when the
  // next one starts (announce() stopped waiting for it) is cut short.
  let stopVoice = null;

  function playAudio(blob) {
    if (stopVoice) stopVoice();
    if (!voiceAudio) voiceAudio = new Audio();
    const audio = voiceAudio;
    const url = URL.createObjectURL(blob);
    return new Promise((resolve) => {
      const done = () => {
        if (stopVoice !== done) return;
        stopVoice = null;
        audio.onended = audio.onerror = null;
        audio.pause();
        URL.revokeObjectURL(url);
        resolve();
      };
      stopVoice = done;
      audio.onended = done;
      audio.onerror = done;
      audio.src = url;
      audio.play().catch((err) => {
        if (err.name === "NotAllowedError") soundBlocked(true);
        done();
      });
    });
  }

  // ---- one call after the other ------------------------------------------------------

  // The hook for one call: chime, then speech, else the fallback voice (looked up on
  // the namespace each time, so it can be replaced: NovbeDisplay.voiceFallback).
  async function announce(call) {
    const announcement = announcementFor(call);
    await chime.play();
    if (await speak(announcement)) return;
    const fallback = Promise.resolve().then(() => D.voiceFallback(announcement));
    await Promise.race([fallback.catch(() => {}), sleep(15000)]);
  }

  // One announcement at a time, in order of arrival; the next starts when the previous
  // one has ended. A recall of a ticket still waiting its turn moves it to the back.
  const announcer = (() => {
    const pending = [];
    let busy = false;
    let current = null; // the call being announced

    function enqueue(call) {
      const queued = pending.findIndex((c) => c.number === call.number);
      if (queued >= 0) pending.splice(queued, 1);
      pending.push(call);
      while (pending.length > MAX_PENDING) pending.shift();
      run();
    }

    async function run() {
      if (busy) return;
      busy = true;
      try {
        while (pending.length) {
          current = pending.shift();
          try {
            await announce(current);
          } catch (err) {
            console.warn("announcement failed", err);
          }
          current = null;
          await sleep(ANNOUNCE_GAP_MS);
        }
      } finally {
        busy = false;
      }
    }

    // What is being said and what waits, by ticket number (console and tests).
    function status() {
      return { current: current && current.number, pending: pending.map((c) => c.number) };
    }

    return { enqueue, status };
  })();

  // The #sound button, and any tap or key (a remote control's OK button, say), let
  // the sound play from now on. Asked at the start too, so whoever sets the screen up
  // sees the button then, not at the first call of the day.
  function wireSound() {
    chime.ready();
    $("sound").addEventListener("click", () => {
      chime.unlock();
      soundBlocked(false);
    });
    document.addEventListener("pointerdown", chime.unlock);
    document.addEventListener("keydown", chime.unlock);
  }

  Object.assign(D, {
    announce, // announce(call): chime, then speech, else voiceFallback
    voiceFallback, // replaceable: see above
    spokenNumber,
    enqueueAnnouncement: announcer.enqueue,
    wireSound,
  });
  Object.defineProperty(D, "announcements", { get: announcer.status, enumerable: true });
})();
