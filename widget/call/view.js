// What the person sees: one screen per state, its text in the live region, the videos and the
// controls. Reads nothing from the network; app.js tells it what to show. Every value from
// outside (names, title, branding) goes in as text or is checked first.

import { RECORDING, STARTING, STOPPING } from "./recorder.js";
import { ENDED, ERROR, IN_CALL, LOADING, PREJOIN, RECONNECTING, WAITING } from "./states.js";
import { textsFor } from "./texts.js";

const ACCENT_COLOR = /^#[0-9a-f]{6}$/i;
const LOGO_URL_MAX_LENGTH = 2048;

function byId(id) {
  return document.getElementById(id);
}

/** An https URL without user info, or null: nothing else becomes the logo's src. */
export function safeLogoUrl(value) {
  if (typeof value !== "string" || value.length > LOGO_URL_MAX_LENGTH) return null;
  try {
    const url = new URL(value);
    return url.protocol === "https:" && !url.username && !url.password ? url.href : null;
  } catch (error) {
    return null;
  }
}

/** Black or white, whichever reads better on `hex` (WCAG relative luminance). */
function textColorOn(hex) {
  const channel = (i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return (1.05) / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? "#fff" : "#000";
}

export class CallView {
  constructor() {
    this.root = byId("call");
    this.status = byId("status");
    this.t = textsFor("en");
    this.screens = Array.from(document.querySelectorAll("[data-screens]"));
    this.el = {};
    for (const id of [
      "heading", "logo", "call-title", "retry", "preview", "preview-video", "preview-off", "mic-level",
      "camera-select", "mic-select", "camera-field", "mic-field", "mic-level-field", "preview-mic",
      "preview-camera", "name", "record-notice", "media-problem", "media-retry", "join-without", "join",
      "remote-video", "remote-name", "stage-note", "self-video", "self-off", "sound-blocked", "sound-on",
      "call-mic", "call-camera", "leave", "end", "end-confirm", "end-yes", "end-no", "call-message", "rejoin",
      "record", "recording-indicator", "record-message",
    ]) {
      this.el[id] = byId(id);
    }
  }

  setLanguage(language) {
    this.t = textsFor(language);
    document.documentElement.lang = language;
    for (const node of document.querySelectorAll("[data-text]")) node.textContent = this.t(node.dataset.text);
    for (const node of document.querySelectorAll("[data-label]")) {
      node.setAttribute("aria-label", this.t(node.dataset.label));
    }
    document.title = this.t("title");
  }

  /** The preset's logo and colour, only when well formed: both come from outside. */
  setBranding(branding) {
    if (!branding || typeof branding !== "object") return;
    const logo = safeLogoUrl(branding.logoUrl);
    if (logo) {
      const img = this.el.logo;
      img.addEventListener("error", () => { img.hidden = true; }, { once: true });
      img.src = logo;
      img.hidden = false;
    }
    const color = branding.accentColor;
    if (typeof color === "string" && ACCENT_COLOR.test(color)) {
      document.documentElement.style.setProperty("--accent", color);
      document.documentElement.style.setProperty("--on-accent", textColorOn(color));
    }
  }

  setCallTitle(title) {
    const node = this.el["call-title"];
    node.textContent = typeof title === "string" ? title : "";
    node.hidden = !node.textContent;
  }

  /**
   * Show `state`: its screen, its text in the live region, its controls. `model` is what app.js
   * knows: role, peerName, mediaState, previewEnabled, recordOnStart, mediaProblem, ...
   */
  render(state, detail, model) {
    const focused = document.activeElement;
    const focusLost = focused && focused !== document.body && Boolean(focused.closest("[data-screens]"));
    this.root.dataset.state = state;
    if (detail.reason) this.root.dataset.reason = detail.reason;
    else delete this.root.dataset.reason;
    for (const screen of this.screens) screen.hidden = !screen.dataset.screens.split(" ").includes(state);

    const { text, kind } = this.statusOf(state, detail, model);
    this.say(text, kind);
    const inCall = state === WAITING || state === IN_CALL || state === RECONNECTING;
    this.status.classList.toggle("vc-visually-hidden", inCall);

    if (state === ERROR) this.el.retry.hidden = !detail.retry;
    if (state === PREJOIN) this.renderPrejoin(model);
    if (inCall) this.renderCall(state, model, text);
    this.renderRecording(inCall, model);
    if (state === ENDED) {
      this.el["end-confirm"].hidden = true;
      const again = { left: "rejoin", replaced: "continueHere" }[detail.reason];
      this.el.rejoin.hidden = !again;
      if (again) this.el.rejoin.textContent = this.t(again);
    }
    // Focus moves only when the control that had it went away with its screen (after the
    // person's own action), never on load.
    if (focusLost && !this.isShown(focused)) this.focusFirst(state);
  }

  statusOf(state, detail, model) {
    const t = this.t;
    switch (state) {
      case LOADING:
        return { text: t("loading") };
      case ERROR: {
        const text = t("error_" + detail.reason);
        const reference = detail.requestId ? " " + t("reference", { id: detail.requestId }) : "";
        return { text: text + reference, kind: "error" };
      }
      case PREJOIN:
        if (model.mediaProblem) return { text: t("media_" + model.mediaProblem), kind: "error" };
        return { text: t(model.previewEnabled ? "prejoinPreview" : "prejoinOneClick") };
      case WAITING:
        if (detail.reason === "joining") return { text: t("joining") };
        if (model.peerName) return { text: t("waitingFor", { name: model.peerName }) };
        return { text: t(model.role === "agent" ? "waitingForGuest" : "waitingForAgent") };
      case IN_CALL:
        if (model.callMessage) return { text: model.callMessage, kind: "error" };
        return { text: t("inCallWith", { name: this.peerLabel(model) }) };
      case RECONNECTING:
        return { text: t("reconnecting"), kind: "notice" };
      case ENDED:
        return { text: t("ended_" + detail.reason), kind: detail.reason === "replaced" ? "notice" : null };
      default:
        return { text: "" };
    }
  }

  peerLabel(model) {
    return model.peerName || this.t(model.role === "agent" ? "guest" : "agent");
  }

  /** The live region; unchanged text is not set again, so it is not announced twice. */
  say(text, kind) {
    if (this.status.textContent !== text) this.status.textContent = text;
    if (kind) this.status.dataset.kind = kind;
    else delete this.status.dataset.kind;
  }

  renderPrejoin(model) {
    const stream = model.media.stream;
    const hasMedia = stream.getTracks().length > 0;
    this.el.preview.hidden = !model.previewEnabled || !hasMedia;
    this.el["record-notice"].hidden = !(model.recordOnStart && model.role === "guest");
    this.el["media-problem"].hidden = !model.mediaProblem;
    if (model.previewEnabled && hasMedia) {
      this.showVideo(this.el["preview-video"], stream);
      this.el["camera-field"].hidden = !model.media.has("video");
      this.el["mic-field"].hidden = !model.media.has("audio");
      this.el["mic-level-field"].hidden = !model.media.has("audio");
    }
    this.renderToggles(model, "preview-mic", "preview-camera", "preview-off");
    this.el.join.hidden = Boolean(model.mediaProblem);
    this.el.join.disabled = Boolean(model.busy);
  }

  renderCall(state, model, text) {
    const remote = this.el["remote-video"];
    const present = state === IN_CALL || (state === RECONNECTING && model.peerPresent);
    this.el["remote-name"].textContent = present ? this.peerLabel(model) : "";
    this.el["remote-name"].hidden = !present;
    let note = "";
    if (state !== IN_CALL) note = text;
    else if (model.mediaState !== "connected") note = this.t("mediaConnecting");
    this.el["stage-note"].textContent = note;
    remote.hidden = !present;
    this.showVideo(this.el["self-video"], model.media.stream);
    this.renderToggles(model, "call-mic", "call-camera", "self-off");
    this.el.end.hidden = model.role !== "agent";
    this.el.end.disabled = Boolean(model.ending);
    this.el.leave.disabled = Boolean(model.ending);
    this.el["end-yes"].disabled = Boolean(model.ending);
    this.el["sound-blocked"].hidden = !model.soundBlocked;
    this.el["call-message"].textContent = model.callMessage || "";
    this.el["call-message"].hidden = !model.callMessage;
  }

  /**
   * Recording: the indicator on both pages while it runs (the agent's own recorder; for the
   * guest, the agent's word), and for the agent the Record / Stop control and what went wrong.
   * A control that is busy stays focusable (aria-disabled), so the keyboard keeps its place.
   */
  renderRecording(inCall, model) {
    const agent = model.role === "agent";
    const state = model.recording.state;
    this.el["recording-indicator"].hidden = !(inCall && (agent ? state === RECORDING : model.peerRecording));
    const button = this.el.record;
    button.hidden = !(inCall && agent);
    const label = { [STARTING]: "recordStarting", [RECORDING]: "recordStop", [STOPPING]: "recordSaving" }[state];
    button.textContent = this.t(label || "record");
    button.dataset.recording = String(state === RECORDING);
    const busy = state === STARTING || state === STOPPING;
    if (busy) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
    const problem = model.recording.problem;
    const message = agent && problem && problem !== "interrupted" ? this.t("recordProblem_" + problem) : "";
    const node = this.el["record-message"];
    if (node.textContent !== message) node.textContent = message;
  }

  /** Mute buttons say what they do next; one without its device is disabled. */
  renderToggles(model, micId, cameraId, offId) {
    const toggles = [
      [this.el[micId], "audio", "micMute", "micUnmute"],
      [this.el[cameraId], "video", "camOff", "camOn"],
    ];
    for (const [button, kind, turnOff, turnOn] of toggles) {
      const has = model.media.has(kind);
      const on = model.media.isEnabled(kind);
      button.textContent = this.t(on || !has ? turnOff : turnOn);
      button.dataset.on = String(on);
      button.disabled = !has;
    }
    const off = this.el[offId];
    const camera = model.media.has("video");
    if (!camera) off.textContent = this.t("noCamera");
    else off.textContent = model.media.isEnabled("video") ? "" : this.t("cameraOff");
    off.hidden = !off.textContent;
  }

  showVideo(video, stream) {
    if (video.srcObject !== stream) video.srcObject = stream;
  }

  /** The other person's media. Resolves false when the browser refused to play its sound
   * without a click (a reload, say): the video then plays muted until "Turn sound on". */
  async showRemote(stream) {
    const video = this.el["remote-video"];
    if (video.srcObject === stream) return true;
    video.srcObject = stream;
    try {
      await video.play();
      return true;
    } catch (error) {
      if (error.name !== "NotAllowedError") return true; // interrupted by the next stream, say
      video.muted = true;
      video.play().catch(() => {});
      return false;
    }
  }

  /** Resolves false if the browser still refuses the sound. */
  unmuteRemote() {
    const video = this.el["remote-video"];
    video.muted = false;
    return video.play().then(
      () => true,
      (error) => {
        if (error.name !== "NotAllowedError") return true;
        video.muted = true;
        video.play().catch(() => {});
        return false;
      },
    );
  }

  /** The preview after a device change: the same stream with another track. */
  refreshPreview(stream) {
    const video = this.el["preview-video"];
    video.srcObject = null;
    video.srcObject = stream;
  }

  setLevel(level) {
    this.el["mic-level"].value = level;
  }

  setDevices(kind, devices, selected) {
    const select = this.el[kind === "video" ? "camera-select" : "mic-select"];
    const options = devices.map((device, index) => {
      const option = document.createElement("option");
      option.value = device.deviceId;
      const unnamed = `${this.t(kind === "video" ? "cameraSelect" : "micSelect")} ${index + 1}`;
      option.textContent = device.label || unnamed;
      return option;
    });
    select.replaceChildren(...options);
    if (selected) select.value = selected;
  }

  showEndConfirm(open) {
    this.el["end-confirm"].hidden = !open;
    this.el.end.hidden = open;
    (open ? this.el["end-yes"] : this.el.end).focus();
  }

  isShown(node) {
    return node.isConnected && node.getClientRects().length > 0;
  }

  focusFirst(state) {
    const inCall = [this.el["call-mic"], this.el["call-camera"], this.el.leave];
    const candidates = {
      [ERROR]: [this.el.retry],
      [PREJOIN]: [this.el.join, this.el["join-without"]],
      [WAITING]: inCall,
      [IN_CALL]: inCall,
      [RECONNECTING]: inCall,
      [ENDED]: [this.el.rejoin],
    }[state] || [];
    const first = candidates.find((node) => this.isShown(node) && !node.disabled);
    (first || this.el.heading).focus();
  }
}
