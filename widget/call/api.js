// The call page's network: the join, end and recording routes of the REST API (on the page's own
// origin), and the signaling WebSocket (version 1 of the protocol), which reconnects by itself
// with a fresh token from the join API.

const CALLS_PATH = "/api/calls";
const TIMEOUT_MS = 20000;
// API Gateway closes a WebSocket that is idle for 10 minutes; a ping that gets no pong in time
// means the socket is dead even if the browser has not noticed yet.
const PING_EVERY_MS = 30000;
const PONG_WITHIN_MS = 10000;
const RECONNECT_DELAYS_MS = [250, 1000, 2000, 4000, 8000];
const RECONNECT_MAX_DELAY_MS = 10000;

/**
 * Why a request failed. `kind`: unauthorized (401), disabled (403), notFound (404), ended and
 * expired (410, or 409 CALL_EXPIRED on end), invalidLink (400/422), network (no answer, a
 * timeout, 429, 5xx), unexpected (any other answer, or one this page cannot read); and for the
 * recording routes: recordingBusy (409 RECORDING_IN_PROGRESS), recordingOver (409
 * RECORDING_NOT_IN_PROGRESS, 404 RECORDING_NOT_FOUND: the server completed it), recordingEmpty
 * (409 RECORDING_EMPTY: nothing was uploaded).
 */
export class ApiProblem extends Error {
  constructor(kind, { status = 0, code = "", requestId = "" } = {}) {
    super(`${kind} (${status || "no answer"}${code ? " " + code : ""})`);
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }

  /** Asking again later may help; the other kinds will answer the same. */
  get passing() {
    return this.kind === "network" || this.kind === "unexpected";
  }
}

const RECORDING_KINDS = {
  RECORDING_IN_PROGRESS: "recordingBusy",
  RECORDING_NOT_IN_PROGRESS: "recordingOver",
  RECORDING_NOT_FOUND: "recordingOver",
  RECORDING_EMPTY: "recordingEmpty",
};

function kindOf(status, code) {
  if (Object.hasOwn(RECORDING_KINDS, code)) return RECORDING_KINDS[code];
  if (code === "CALL_ENDED") return "ended";
  if (code === "CALL_EXPIRED") return "expired";
  if (code === "CALL_NOT_FOUND") return "notFound";
  if (code === "APP_DISABLED") return "disabled";
  if (code === "UNAUTHORIZED") return "unauthorized";
  if (code === "VALIDATION_ERROR") return "invalidLink";
  if (status === 401) return "unauthorized";
  if (status === 403) return "disabled";
  if (status === 404) return "notFound";
  if (status === 410) return "ended";
  if (status === 400 || status === 422) return "invalidLink";
  if (status === 408 || status === 429 || status >= 500) return "network";
  return "unexpected";
}

/** POST a text/plain JSON body (no CORS preflight, should the API ever be on another origin).
 * `keepalive`: the request outlives the page (a small body only: the browser's limit is 64 KiB). */
async function post(path, query, body, { keepalive = false } = {}) {
  const url = path + (query ? "?" + query : "");
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify(body || {}),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
      keepalive,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new ApiProblem("network");
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch (error) {
    answer = null;
  }
  if (response.ok && answer && answer.ok === true && answer.data && typeof answer.data === "object") {
    return answer.data;
  }
  const failure = answer && answer.ok === false && answer.error ? answer.error : {};
  const code = typeof failure.code === "string" ? failure.code : "";
  const requestId = typeof failure.requestId === "string" ? failure.requestId : "";
  throw new ApiProblem(response.ok ? "unexpected" : kindOf(response.status, code), {
    status: response.status,
    code,
    requestId,
  });
}

function callPath(callId) {
  return CALLS_PATH + "/" + encodeURIComponent(callId);
}

/**
 * POST /api/calls/{callId}/join with the link's own query string (role, hostKey or appId +
 * widgetKey). The answer, checked: {callId, role, displayName, recordOnStart, previewEnabled,
 * title?, status, language?, branding?, signaling: {url, token, expiresAt}, iceServers}.
 */
export async function joinCall(callId, query) {
  const data = await post(callPath(callId) + "/join", query);
  const signaling = data.signaling;
  if (
    (data.role !== "agent" && data.role !== "guest") ||
    !signaling ||
    typeof signaling.url !== "string" ||
    typeof signaling.token !== "string" ||
    !/^wss?:$/.test(protocolOf(signaling.url))
  ) {
    throw new ApiProblem("unexpected", { status: 200 });
  }
  return {
    ...data,
    displayName: typeof data.displayName === "string" ? data.displayName : "",
    recordOnStart: data.recordOnStart === true,
    previewEnabled: data.previewEnabled !== false,
    iceServers: Array.isArray(data.iceServers) ? data.iceServers : [],
    receivedAt: Date.now(),
  };
}

function protocolOf(url) {
  try {
    return new URL(url).protocol;
  } catch (error) {
    return "";
  }
}

/**
 * POST /api/calls/{callId}/end with the agent's credential (hostKey, or appId + widgetKey), in the
 * query as the link carried it and in the body: the end route reads either.
 */
export async function endCall(callId, credential) {
  const query = new URLSearchParams(credential).toString();
  return post(callPath(callId) + "/end", query, credential);
}

// ---- Recording: the agent's credential in the query (as the link carried it); each body holds
// only its route's own fields. ----

function recordingsPath(callId, recordingId) {
  return callPath(callId) + "/recordings" + (recordingId ? "/" + encodeURIComponent(recordingId) : "");
}

/**
 * POST /api/calls/{callId}/recordings: a new recording of the call, uploaded in parts.
 * The answer, checked: {recordingId, status, startedAt, mimeType, partSizeBytes, maxPartNumber}.
 */
export async function startRecording(callId, credential, mimeType) {
  const query = new URLSearchParams(credential).toString();
  const data = await post(recordingsPath(callId), query, { mimeType });
  const partSize = data.partSizeBytes;
  if (typeof data.recordingId !== "string" || !data.recordingId || !Number.isSafeInteger(partSize) || partSize < 1) {
    throw new ApiProblem("unexpected", { status: 201 });
  }
  return {
    ...data,
    maxPartNumber: Number.isSafeInteger(data.maxPartNumber) && data.maxPartNumber > 0 ? data.maxPartNumber : 10000,
  };
}

/** POST .../recordings/{recordingId}/parts: the presigned URL to PUT part `partNumber` to. */
export async function recordingPartUrl(callId, credential, recordingId, partNumber) {
  const query = new URLSearchParams(credential).toString();
  const data = await post(recordingsPath(callId, recordingId) + "/parts", query, { partNumbers: [partNumber] });
  const part = Array.isArray(data.parts) ? data.parts.find((found) => found && found.partNumber === partNumber) : null;
  if (!part || typeof part.url !== "string" || !/^https?:$/.test(protocolOf(part.url))) {
    throw new ApiProblem("unexpected", { status: 200 });
  }
  return part.url;
}

/** POST .../recordings/{recordingId}/complete: the server completes the upload from the parts
 * that arrived. `keepalive` for a page that is going away. */
export async function completeRecording(callId, credential, recordingId, durationSeconds, { keepalive = false } = {}) {
  const query = new URLSearchParams(credential).toString();
  const body = Number.isFinite(durationSeconds) && durationSeconds > 0 ? { durationSeconds } : {};
  return post(recordingsPath(callId, recordingId) + "/complete", query, body, { keepalive });
}

/**
 * The signaling connection. `ticket()` gives {url, token} (a fresh join: tokens are single-use
 * and short-lived) or throws an ApiProblem; one that is not `passing` ends the connection
 * (`onFatal`), any other is tried again with backoff. `hello()` gives the display name to send.
 * `onMessage(message)` gets every server message but pong; `onStatus(status)` hears
 * "connecting", "ready" and "down" (the socket dropped; it reconnects by itself).
 * After call-ended or replaced, it stops: the server closes the socket then.
 */
export class Signaling {
  constructor({ ticket, hello, onMessage, onStatus, onFatal }) {
    this.ticket = ticket;
    this.hello = hello;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onFatal = onFatal;
    this.socket = null;
    this.stopped = true;
    this.failures = 0;
    this.timers = new Set();
  }

  start() {
    this.stopped = false;
    this.failures = 0;
    this.connect();
  }

  stop() {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.stopPing();
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  }

  /** Relay `data` (an offer, answer or candidate) to the other person; false when not connected. */
  signal(data) {
    return this.sendAction({ action: "signal", data });
  }

  sendAction(message) {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  later(fn, ms) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  async connect() {
    if (this.stopped) return;
    this.onStatus("connecting");
    let ticket;
    try {
      ticket = await this.ticket();
    } catch (problem) {
      if (this.stopped) return;
      if (problem instanceof ApiProblem && !problem.passing) {
        this.stop();
        this.onFatal(problem);
        return;
      }
      this.retry();
      return;
    }
    if (this.stopped) return;
    const url = new URL(ticket.url);
    url.searchParams.set("token", ticket.token);
    let socket;
    try {
      socket = new WebSocket(url.href);
    } catch (error) {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.sendAction({ action: "hello", displayName: this.hello() });
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      this.receive(event.data);
    });
    socket.addEventListener("close", () => this.dropped(socket));
  }

  /** The socket closed, or stopped answering: forget it and connect anew. */
  dropped(socket) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.stopPing();
    if (socket.readyState <= WebSocket.OPEN) socket.close(4000, "no pong");
    if (this.stopped) return;
    this.onStatus("down");
    this.retry();
  }

  receive(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch (error) {
      return;
    }
    if (!message || typeof message.type !== "string") return;
    switch (message.type) {
      case "pong":
        clearTimeout(this.pongTimer);
        return;
      case "ready":
        this.failures = 0;
        this.startPing();
        this.onStatus("ready");
        break;
      case "call-ended":
      case "replaced":
        // The server closes the socket next; that close must not reconnect.
        this.stop();
        break;
      case "error":
        console.warn(`call page: signaling error ${message.code}: ${message.message}`);
        break;
      default:
        break;
    }
    this.onMessage(message);
  }

  retry() {
    if (this.stopped) return;
    const delay = RECONNECT_DELAYS_MS[this.failures] ?? RECONNECT_MAX_DELAY_MS;
    this.failures += 1;
    // Jitter, so that both pages of a call do not come back in lockstep after an outage.
    this.later(() => this.connect(), delay * (0.75 + Math.random() / 2));
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (!this.sendAction({ action: "ping" })) return;
      clearTimeout(this.pongTimer);
      const socket = this.socket;
      // No pong: the socket is dead though the browser still thinks it open.
      this.pongTimer = setTimeout(() => this.dropped(socket), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }
}
