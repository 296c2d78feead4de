// The call page's wiring: reads the link, asks the join API, and moves the state machine as the
// person, the signaling socket and the peer connection act. docs/call-page.md tells the story.

import {
  ApiProblem,
  Signaling,
  completeRecording,
  endCall,
  joinCall,
  recordingPartUrl,
  startRecording,
} from "./api.js";
import { LevelMeter, LocalMedia } from "./media.js";
import { PeerLink } from "./peer.js";
import { CallRecorder, IDLE as NOT_RECORDING, RECORDING } from "./recorder.js";
import { CallState, ENDED, ERROR, IN_CALL, LOADING, PREJOIN, RECONNECTING, WAITING } from "./states.js";
import { pickLanguage } from "./texts.js";
import { CallView } from "./view.js";

const CREDENTIAL_NAMES = ["hostKey", "appId", "widgetKey"];
const SESSION_PREFIX = "videoCalls.call.";
// A signaling token is good for 60 s: the join answer's own one is used only while well inside.
const TOKEN_FRESH_MS = 45000;
const NAME_MAX_LENGTH = 100;
const ABSENT_PEER_CHECK_MS = 1500;
// The agent's End and Leave wait this long at most for the recording's last part, so that it is
// not raced by the server completing the recording of an ended call or a closed connection.
const RECORDING_LAST_PART_BEFORE_END_MS = 8000;

// ---- The link: /c/{callId}?role=agent&hostKey=... (or appId + widgetKey) ----

function callIdFromPath(pathname) {
  const found = /^\/c\/([^/]+)\/?$/.exec(pathname);
  if (!found) return null;
  try {
    return decodeURIComponent(found[1]);
  } catch (error) {
    return null;
  }
}

/** This tab's memory of the call, kept across a reload: the agent's credential (the address bar
 * no longer shows it), whether the person had joined, their name and devices. */
function tabMemory(callId) {
  const key = SESSION_PREFIX + callId;
  const storage = () => {
    try {
      return window.sessionStorage; // may throw where storage is blocked
    } catch (error) {
      return null;
    }
  };
  return {
    read() {
      try {
        const value = JSON.parse(storage()?.getItem(key) || "{}");
        return value && typeof value === "object" ? value : {};
      } catch (error) {
        return {};
      }
    },
    write(changes) {
      try {
        storage()?.setItem(key, JSON.stringify({ ...this.read(), ...changes }));
      } catch (error) {
        // Full or blocked: a reload then starts over.
      }
    },
    forget() {
      try {
        storage()?.removeItem(key);
      } catch (error) {
        // Nothing to forget.
      }
    },
  };
}

/**
 * What the link carries, and the query to forward to the join API: the link's own on first
 * load; after a reload (the address bar no longer holds the credential) role=agent with the
 * credential this tab kept.
 */
function readLink(memory) {
  const params = new URLSearchParams(window.location.search);
  const role = params.get("role");
  let credential = {};
  for (const name of CREDENTIAL_NAMES) {
    const value = params.get(name);
    if (value) credential[name] = value;
  }
  const inAddress = Object.keys(credential).length > 0;
  if (role === "agent") {
    const kept = memory.read().credential;
    if (!inAddress && kept && typeof kept === "object") {
      credential = {};
      for (const name of CREDENTIAL_NAMES) if (typeof kept[name] === "string") credential[name] = kept[name];
      for (const [name, value] of Object.entries(credential)) params.set(name, value);
    }
    if (Object.keys(credential).length > 0) memory.write({ credential });
  }
  return { role, credential, query: params.toString(), inAddress };
}

/** Take the credential out of the address bar (history, bookmarks, screen shares); role stays,
 * so that a reload is the agent again, with the credential this tab kept. */
function scrubAddressBar(link) {
  if (!link.inAddress) return;
  const kept = new URLSearchParams();
  if (link.role) kept.set("role", link.role);
  const query = kept.toString();
  const address = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
  window.history.replaceState(window.history.state, "", address);
}

// ---- The page ----

const view = new CallView();
const callId = callIdFromPath(window.location.pathname);
const memory = tabMemory(callId || "");
const link = readLink(memory);
scrubAddressBar(link);

const model = {
  role: null,
  answer: null,
  tokenUsed: false,
  previewEnabled: true,
  recordOnStart: false,
  media: new LocalMedia(),
  mediaProblem: null,
  mediaState: "new",
  name: "",
  peerPresent: false,
  peerMediaFlowing: true,
  peerName: "",
  soundBlocked: false,
  ending: false,
  callMessage: "",
  busy: false,
  // The agent's wish to record (recordOnStart, the Record control; kept across a reload), and
  // where the recorder stands; for the guest, whether the agent says it records.
  recordWanted: false,
  recording: { state: NOT_RECORDING, problem: null },
  peerRecording: false,
};
let meter = null;
let peer = null;
let signaling = null;
let announcedRecording = false; // what the guest's page was last told

const machine = new CallState((state, detail) => {
  view.render(state, detail, model);
  queueMicrotask(followRecordingWish);
});
const render = () => view.render(machine.state, machine.detail, model);

view.setLanguage(pickLanguage(navigator.languages || [navigator.language]));
render();

/** Ask the join API; then the preview, or straight into the call when `direct` (after a reload
 * of a tab that was in the call, "Join again", "Continue here"). */
async function load({ direct = false } = {}) {
  if (machine.state !== LOADING && !machine.go(LOADING)) return;
  if (!callId) {
    machine.go(ERROR, { reason: "notFound" });
    return;
  }
  let answer;
  try {
    answer = await joinCall(callId, link.query);
  } catch (problem) {
    refused(problem);
    return;
  }
  model.answer = answer;
  model.tokenUsed = false;
  model.role = answer.role;
  model.previewEnabled = answer.previewEnabled;
  model.recordOnStart = answer.recordOnStart;
  const remembered = memory.read().recording;
  model.recordWanted = model.role === "agent" && (typeof remembered === "boolean" ? remembered : answer.recordOnStart);
  view.setLanguage(pickLanguage([answer.language, ...(navigator.languages || [navigator.language])]));
  view.setBranding(answer.branding);
  view.setCallTitle(answer.title);
  const kept = memory.read();
  view.el.name.value = (typeof kept.name === "string" && kept.name) || answer.displayName;
  if (direct || kept.joined) {
    await joinNow();
    return;
  }
  machine.go(PREJOIN);
  if (model.previewEnabled) await startPreview();
}

/** A join that failed: the call is over, or one clear error (with "Try again" if it may pass). */
function refused(problem) {
  if (!(problem instanceof ApiProblem)) throw problem;
  if (problem.kind === "ended" || problem.kind === "expired") {
    finish(problem.kind);
    return;
  }
  if (problem.kind === "notFound" && machine.joined) {
    finish("ended"); // gone while in it: the database removed the call after it expired
    return;
  }
  stopEverything();
  machine.go(ERROR, { reason: problem.kind, retry: problem.passing, requestId: problem.requestId });
}

// ---- Before joining ----

async function startPreview() {
  model.busy = true;
  render();
  const kept = memory.read().devices || {};
  model.mediaProblem = await model.media.start(kept);
  model.busy = false;
  if (machine.state !== PREJOIN) {
    model.media.stop(); // left the page's prejoin meanwhile
    return;
  }
  startMeter();
  await listDevices();
  render();
}

function startMeter() {
  if (meter) meter.stop();
  meter = null;
  const track = model.media.track("audio");
  if (track && model.previewEnabled) meter = new LevelMeter(track, (level) => view.setLevel(level));
}

async function listDevices() {
  const devices = await model.media.devices();
  view.setDevices("video", devices.video, model.media.deviceId("video"));
  view.setDevices("audio", devices.audio, model.media.deviceId("audio"));
}

async function chooseDevice(kind, deviceId) {
  try {
    await model.media.useDevice(kind, deviceId);
  } catch (error) {
    // The device went away or is busy: the list shows what is there now.
  }
  memory.write({ devices: { audio: model.media.deviceId("audio"), video: model.media.deviceId("video") } });
  if (kind === "audio") startMeter();
  view.refreshPreview(model.media.stream);
  await listDevices();
  render();
}

// ---- Joining ----

/** Join: camera and microphone (asked now if there was no preview: the click is the gesture
 * that sound needs), then the signaling socket and the peer connection. */
async function joinNow({ withoutMedia = false } = {}) {
  if (machine.joined || model.busy) return; // a second click while the first is under way
  if (withoutMedia) {
    model.media.stop();
    model.media = new LocalMedia();
    model.mediaProblem = null;
  } else if (model.media.stream.getTracks().length === 0) {
    model.busy = true;
    if (machine.state === PREJOIN) render();
    model.mediaProblem = await model.media.start(memory.read().devices || {});
    model.busy = false;
    if (model.mediaProblem) {
      machine.go(PREJOIN);
      return;
    }
  }
  if (meter) meter.stop();
  meter = null;
  model.name = view.el.name.value.trim().slice(0, NAME_MAX_LENGTH) || model.answer.displayName;
  recorder.forgetProblem();
  memory.write({ joined: true, name: model.name });
  model.peerPresent = false;
  model.mediaState = "new";
  peer = new PeerLink({
    role: model.role,
    iceServers: model.answer.iceServers,
    localStream: model.media.stream,
    send: (data) => signaling && signaling.signal(data),
    onRemoteStream: showRemote,
    onMediaState: mediaStateChanged,
  });
  signaling = new Signaling({
    ticket,
    hello: () => model.name,
    onMessage: signaled,
    onStatus: signalingStatus,
    onFatal: refused,
  });
  machine.go(WAITING, { reason: "joining" });
  signaling.start();
}

/** A token for the socket: the join answer's own while fresh and unused, else a new join. */
async function ticket() {
  const answer = model.answer;
  if (!model.tokenUsed && Date.now() - answer.receivedAt < TOKEN_FRESH_MS) {
    model.tokenUsed = true;
    return answer.signaling;
  }
  const fresh = await joinCall(callId, link.query);
  model.answer = fresh;
  model.tokenUsed = true;
  if (peer) peer.setIceServers(fresh.iceServers); // TURN credentials expire
  return fresh.signaling;
}

async function showRemote(stream) {
  if (recorder.state !== NOT_RECORDING) recorder.update(recordingScene());
  const playing = await view.showRemote(stream);
  if (!playing && !model.soundBlocked) {
    model.soundBlocked = true;
    render();
  }
}

function signalingStatus(status) {
  // The server completes a recording when the agent's connection closes: still open?
  if (status === "ready") recorder.check();
  if (status !== "down") return;
  // Before the first ready the page is still joining: it keeps saying so while it tries again.
  const joining = machine.state === WAITING && machine.detail.reason === "joining";
  if (machine.state === IN_CALL || (machine.state === WAITING && !joining)) machine.go(RECONNECTING);
}

function signaled(message) {
  switch (message.type) {
    case "ready":
      peerIs(Boolean(message.peer), message.peer);
      announceRecording(true);
      break;
    case "peer-joined":
      peerIs(true, message.peer);
      announceRecording(true);
      break;
    case "peer-left":
      model.peerRecording = false; // the agent's page is gone, or will say so again
      announcedRecording = false; // a guest who comes back knows nothing yet
      peerIs(false, null);
      break;
    case "signal":
      if (message.data && message.data.type === "recording") recordingSignaled(message.data);
      else if (peer) peer.receive(message.data);
      break;
    case "call-ended":
      finish("ended");
      break;
    case "replaced":
      finish("replaced");
      break;
    default:
      break;
  }
}

function peerIs(present, about) {
  model.peerPresent = present;
  model.peerMediaFlowing = true;
  if (present && about && typeof about.displayName === "string" && about.displayName.trim()) {
    model.peerName = about.displayName.trim();
  }
  if (peer) peer.setPeerPresent(present);
  if (recorder.state !== NOT_RECORDING) recorder.update(recordingScene());
  settle();
  if (!present && machine.state === IN_CALL) watchAbsentPeer();
}

/** In the call while the other person is on the socket, or their media still arrives (their
 * socket may be reconnecting); waiting otherwise. */
function settle() {
  if (!machine.joined) return;
  const mediaUp = model.mediaState === "connected" && model.peerMediaFlowing;
  if (model.peerPresent || (mediaUp && machine.state !== WAITING)) machine.go(IN_CALL);
  else machine.go(WAITING, { reason: "peer" });
}

/** The other person's socket closed. Closing their page stops their media at once, but the
 * connection here notices only after several seconds; a socket that merely dropped leaves the
 * media flowing. So: waiting as soon as no more media arrives. */
async function watchAbsentPeer() {
  const watched = peer;
  let before = await watched.inboundBytes();
  while (peer === watched && !model.peerPresent && machine.state === IN_CALL) {
    await new Promise((resolve) => setTimeout(resolve, ABSENT_PEER_CHECK_MS));
    const now = await watched.inboundBytes();
    model.peerMediaFlowing = now > before;
    before = now;
    if (!model.peerMediaFlowing) {
      settle();
      return;
    }
  }
}

function mediaStateChanged(state) {
  model.mediaState = state;
  if (machine.state === RECONNECTING) render();
  else settle();
}

// ---- Recording (the agent's page) ----

const recorder = new CallRecorder({
  api: {
    start: (mimeType) => startRecording(callId, link.credential, mimeType),
    partUrl: (recordingId, partNumber) => recordingPartUrl(callId, link.credential, recordingId, partNumber),
    complete: (recordingId, seconds, options) =>
      completeRecording(callId, link.credential, recordingId, seconds, options),
  },
  onChange: recordingChanged,
});

/** What is recorded: the agent left, the guest right, each with the name the page shows. */
function recordingScene() {
  return {
    tiles: [
      { stream: model.media.stream, name: model.name, noVideo: view.t("noCamera") },
      { stream: peer ? peer.remoteStream : null, name: view.peerLabel(model), noVideo: "" },
    ],
    cameraOff: view.t("cameraOff"),
  };
}

function recordingChanged() {
  model.recording = { state: recorder.state, problem: recorder.problem };
  announceRecording(false);
  render();
  followRecordingWish();
}

/** Recording starts by itself once both people are in the call, when the agent wants it (the
 * call's recordOnStart, or Record before a reload), and again when the server closed it. */
function followRecordingWish() {
  if (model.role !== "agent" || !model.recordWanted || machine.state !== IN_CALL || model.ending) return;
  if (recorder.state !== NOT_RECORDING) return;
  if (recorder.problem && recorder.problem !== "interrupted") return; // the agent's Record tries again
  recorder.start(recordingScene());
}

/** The agent's page tells the guest's whether it records, through the signaling relay:
 * whenever that changes while the guest is there, and to a guest that (re)joins while it does. */
function announceRecording(toNewcomer) {
  if (model.role !== "agent" || !signaling || !model.peerPresent) return;
  const active = recorder.active;
  if (toNewcomer ? !active : active === announcedRecording) return;
  if (signaling.signal({ type: "recording", active })) announcedRecording = active;
}

function recordingSignaled(data) {
  if (model.role !== "guest") return;
  model.peerRecording = data.active === true;
  render();
}

function recordClicked() {
  if (model.role !== "agent") return;
  if (recorder.state === NOT_RECORDING) {
    model.recordWanted = true;
    memory.write({ recording: true });
    recorder.start(recordingScene());
  } else if (recorder.state === RECORDING) {
    model.recordWanted = false;
    memory.write({ recording: false });
    recorder.stop();
  }
}

// ---- Leaving and ending ----

function stopEverything() {
  recorder.stop(); // goes on uploading the last part while the page says the call is over
  if (signaling) signaling.stop();
  signaling = null;
  if (peer) peer.close();
  peer = null;
  if (meter) meter.stop();
  meter = null;
  model.media.stop();
}

/** The call is over for this page: camera and microphone off, one clear text. */
function finish(reason) {
  stopEverything();
  model.ending = false;
  model.callMessage = "";
  model.soundBlocked = false;
  model.peerRecording = false;
  if (reason === "left" || reason === "replaced") memory.write({ joined: false });
  else memory.forget();
  if (machine.state === LOADING || machine.state === PREJOIN || machine.joined) machine.go(ENDED, { reason });
}

/**
 * Leaving: a recording's last part goes up and the recording is completed first. Once this
 * agent's socket closes, the server completes it from the parts that arrived, the last one not
 * among them. `ending` keeps a recording from starting again meanwhile.
 */
async function leave() {
  if (model.ending) return;
  model.ending = true;
  render();
  const patience = new Promise((resolve) => setTimeout(resolve, RECORDING_LAST_PART_BEFORE_END_MS));
  await Promise.race([recorder.stop(), patience]);
  finish("left");
}

async function endForEveryone() {
  model.ending = true;
  model.callMessage = "";
  render();
  // The last part first: once the call has ended, the server completes the recording from the
  // parts that arrived.
  const patience = new Promise((resolve) => setTimeout(resolve, RECORDING_LAST_PART_BEFORE_END_MS));
  await Promise.race([recorder.stop(), patience]);
  try {
    await endCall(callId, link.credential);
    finish("byYou");
  } catch (problem) {
    model.ending = false;
    queueMicrotask(followRecordingWish); // the call goes on, and so does its recording (a new one)
    if (!(problem instanceof ApiProblem)) throw problem;
    if (problem.kind === "expired" || problem.kind === "ended" || problem.kind === "notFound") {
      finish(problem.kind === "expired" ? "expired" : "ended");
      return;
    }
    let why = problem.passing ? "network" : "unexpected";
    if (problem.kind === "unauthorized" || problem.kind === "disabled") why = "refused";
    model.callMessage = view.t("endFailed_" + why);
    view.showEndConfirm(false);
    render();
  }
}

// ---- The person's controls ----

function toggle(kind) {
  model.media.setEnabled(kind, !model.media.isEnabled(kind));
  render();
}

const on = (id, handler) => view.el[id].addEventListener("click", handler);
on("retry", () => load());
on("join", () => joinNow());
on("join-without", () => joinNow({ withoutMedia: true }));
on("media-retry", async () => {
  model.mediaProblem = null;
  if (model.previewEnabled) await startPreview();
  else await joinNow();
  render();
});
on("preview-mic", () => toggle("audio"));
on("preview-camera", () => toggle("video"));
on("call-mic", () => toggle("audio"));
on("call-camera", () => toggle("video"));
on("leave", leave);
on("end", () => view.showEndConfirm(true));
on("record", recordClicked);
on("end-no", () => view.showEndConfirm(false));
on("end-yes", () => endForEveryone());
on("rejoin", () => load({ direct: true }));
on("sound-on", async () => {
  // play() settles only once media arrives: take the click as enough unless it is refused.
  model.soundBlocked = false;
  render();
  if (!(await view.unmuteRemote())) {
    model.soundBlocked = true;
    render();
  }
});
view.el["camera-select"].addEventListener("change", (event) => chooseDevice("video", event.target.value));
view.el["mic-select"].addEventListener("change", (event) => chooseDevice("audio", event.target.value));
view.el.name.addEventListener("change", () => memory.write({ name: view.el.name.value.trim() }));
navigator.mediaDevices?.addEventListener?.("devicechange", () => {
  if (machine.state === PREJOIN && model.previewEnabled) listDevices();
});

// Leaving the page tells the other side at once (its socket closes); a reload resumes the call.
window.addEventListener("pagehide", () => {
  recorder.rescue(); // before the socket closes: its closing makes the server complete the recording
  if (signaling) signaling.stop();
  if (peer) peer.close();
});
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload(); // back from the page cache: its socket is gone
});

load();
