// Recording the call in the agent's page: what the call looks like (composer.js) through the
// browser's own MediaRecorder, as WebM, uploaded while it runs (upload.js). The recording's
// states:
//
//   idle -> starting -> recording -> stopping -> idle
//              \-> idle (the start was refused: `problem` says why)
//
// `problem` after a recording that could not start or went wrong: unsupported (no WebM
// recorder in this browser), busy (409 RECORDING_IN_PROGRESS), ended (410), refused (401/403),
// network, unexpected, uploadFailed, uploadRefused; "interrupted" when the server completed the
// recording itself (the agent's connection closed): the page may start a new one. While starting,
// "needsGesture": the browser lets the sound be mixed only after a click or key in this page.

import { ApiProblem } from "./api.js";
import { CallComposer } from "./composer.js";
import { PartUpload } from "./upload.js";

export const IDLE = "idle";
export const STARTING = "starting";
export const RECORDING = "recording";
export const STOPPING = "stopping";

// WebM, VP8 and Opus where the browser has them: the first one it supports.
const MIME_TYPES = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm"];
const TIMESLICE_MS = 1000;
const VIDEO_BITS_PER_SECOND = 2500000;
const AUDIO_BITS_PER_SECOND = 128000;
// A start refused as busy is tried again: right after a reload the previous page's recording may
// still be being completed by the server. No answer is tried again too.
const START_RETRY_DELAYS_MS = [2000, 4000];
// How long the mix's AudioContext may take to run by itself before the page asks for a click.
const AUDIO_START_MS = 500;
const COMPLETE_RETRY_DELAYS_MS = [1000, 3000];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The first WebM type this browser records, or null. */
export function recordingMimeType() {
  if (typeof MediaRecorder === "undefined" || typeof MediaRecorder.isTypeSupported !== "function") return null;
  return MIME_TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || null;
}

function problemOf(error) {
  if (!(error instanceof ApiProblem)) return "unexpected";
  if (error.kind === "recordingBusy") return "busy";
  if (error.kind === "ended" || error.kind === "expired" || error.kind === "notFound") return "ended";
  if (error.kind === "unauthorized" || error.kind === "disabled") return "refused";
  if (error.kind === "network") return "network";
  return "unexpected";
}

/**
 * The agent's recorder. `api`: {start(mimeType), partUrl(recordingId, partNumber),
 * complete(recordingId, durationSeconds, {keepalive})} (api.js, with the call and credential
 * bound). `onChange()` is called after every change of `state` or `problem`.
 */
export class CallRecorder {
  constructor({ api, onChange }) {
    this.api = api;
    this.onChange = onChange;
    this.state = IDLE;
    this.problem = null;
    this.scene = null;
    this.run = null; // the recording under way: {recordingId, composer, media, upload, startedAt}
  }

  get active() {
    return this.state === RECORDING;
  }

  set(state, problem = this.problem) {
    this.state = state;
    this.problem = problem;
    this.onChange();
  }

  /**
   * Start recording `scene`: {tiles: [{stream, name, noVideo}, {…}], cameraOff} (composer.js).
   * Resolves once it records, or could not start (`problem` says why).
   */
  async start(scene) {
    if (this.state !== IDLE) return;
    this.scene = scene;
    this.stopWanted = false;
    const mimeType = recordingMimeType();
    if (!mimeType) {
      this.set(IDLE, "unsupported");
      return;
    }
    this.set(STARTING, null);
    let composer;
    try {
      composer = new CallComposer(scene);
    } catch (error) {
      console.warn("call page: the recording could not be composed:", error);
      this.set(IDLE, "unsupported");
      return;
    }
    const given = () => {
      composer.stop();
      this.set(IDLE, null);
    };
    if (!(await composer.audioRunning(AUDIO_START_MS))) {
      this.set(STARTING, "needsGesture");
      const stopped = new Promise((resolve) => {
        this.stopStarting = resolve;
      });
      await Promise.race([composer.audioRunning(Infinity), stopped]);
      this.stopStarting = null;
      if (this.stopWanted) return given();
      this.set(STARTING, null);
    }
    if (this.stopWanted) return given();
    let started = null;
    for (let attempt = 0; !started; attempt += 1) {
      try {
        started = await this.api.start(mimeType);
      } catch (error) {
        const again = error instanceof ApiProblem && (error.passing || error.kind === "recordingBusy");
        if (!again || attempt >= START_RETRY_DELAYS_MS.length || this.stopWanted) {
          composer.stop();
          this.set(IDLE, this.stopWanted ? null : problemOf(error));
          return;
        }
        await sleep(START_RETRY_DELAYS_MS[attempt]);
      }
    }
    if (this.stopWanted) {
      // Stopped (or left) while it started: an upload without parts is removed by the server.
      this.api.complete(started.recordingId, 0).catch(() => {});
      return given();
    }
    try {
      this.record(started, mimeType, composer);
    } catch (error) {
      console.warn("call page: the recording could not start:", error);
      this.run = null;
      this.api.complete(started.recordingId, 0).catch(() => {});
      composer.stop();
      this.set(IDLE, "unsupported");
      return;
    }
    this.set(RECORDING, null);
  }

  record(started, mimeType, composer) {
    this.scene.tiles.forEach((tile, index) => composer.setTile(index, tile)); // changed while it started
    const run = { recordingId: started.recordingId, composer, startedAt: performance.now(), media: null };
    this.run = run;
    run.upload = new PartUpload({
      partSize: started.partSizeBytes,
      maxPartNumber: started.maxPartNumber,
      partUrl: (partNumber) => this.api.partUrl(run.recordingId, partNumber),
      onFailed: (failure) => this.uploadFailed(run, failure),
    });
    run.media = new MediaRecorder(composer.stream, {
      mimeType,
      videoBitsPerSecond: VIDEO_BITS_PER_SECOND,
      audioBitsPerSecond: AUDIO_BITS_PER_SECOND,
    });
    run.media.addEventListener("dataavailable", (event) => run.upload.add(event.data));
    run.media.addEventListener("error", (event) => {
      console.warn("call page: the recorder failed:", event.error);
      if (run === this.run && this.state === RECORDING) this.stop("unexpected");
    });
    run.media.start(TIMESLICE_MS);
    run.startedAt = performance.now(); // the file's time 0
  }

  /** A new join: what went wrong last time is forgotten. */
  forgetProblem() {
    if (this.state === IDLE && this.problem) this.set(IDLE, null);
  }

  /** The people or their names changed (a renewed connection, the other person's name). */
  update(scene) {
    this.scene = scene;
    if (!this.run) return;
    scene.tiles.forEach((tile, index) => this.run.composer.setTile(index, tile));
  }

  /** The page's signaling connection came back: is the recording still open on the server? */
  check() {
    if (this.run && this.state === RECORDING) this.run.upload.check();
  }

  seconds(run) {
    return Math.round((performance.now() - run.startedAt) / 100) / 10;
  }

  /**
   * Stop: the recorder's last bytes, the last part, then complete with the duration. Resolves
   * when done; the call goes on meanwhile. `problem`: why, when it was not the person's wish.
   */
  async stop(problem = null) {
    if (this.state === STARTING) {
      this.stopWanted = true;
      if (this.stopStarting) this.stopStarting();
      return;
    }
    if (this.state === STOPPING) {
      await this.stopping;
      return;
    }
    if (this.state !== RECORDING) return;
    const run = this.run;
    this.set(STOPPING, problem);
    this.stopping = (async () => {
      const durationSeconds = this.seconds(run);
      await this.stopMedia(run);
      const { failure } = await run.upload.finish();
      if (!failure || failure.reason === "failed") await this.complete(run, durationSeconds);
      this.run = null;
      let after = this.problem;
      if (failure && !after) after = failure.reason === "over" ? "interrupted" : "uploadFailed";
      this.set(IDLE, after);
    })();
    await this.stopping;
  }

  stopMedia(run) {
    return new Promise((resolve) => {
      if (run.media.state === "inactive") {
        resolve();
        return;
      }
      // The last dataavailable comes before stop.
      run.media.addEventListener("stop", resolve, { once: true });
      run.media.stop();
    }).finally(() => run.composer.stop());
  }

  async complete(run, durationSeconds) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.api.complete(run.recordingId, durationSeconds);
        return;
      } catch (error) {
        // Nothing uploaded (RECORDING_EMPTY), or the server completed it already: nothing to do.
        // Else the server completes it when the call ends or the agent's connection closes.
        if (!(error instanceof ApiProblem) || !error.passing || attempt >= COMPLETE_RETRY_DELAYS_MS.length) return;
        await sleep(COMPLETE_RETRY_DELAYS_MS[attempt]);
      }
    }
  }

  /** The upload gave up while recording: stop, and say why ("interrupted" lets the page start a
   * new recording: the server completed this one). */
  uploadFailed(run, failure) {
    if (run !== this.run || this.state !== RECORDING) return;
    const why = { over: "interrupted", refused: "uploadRefused" }[failure.reason] || "uploadFailed";
    this.stop(why);
  }

  /**
   * The page is going away (pagehide): it can wait for nothing. What is held goes as the last
   * part (upload.js); when nothing is held or on its way, `complete` goes with keepalive. Else
   * the server completes the recording from the parts that arrived, when the agent's signaling
   * connection closes.
   */
  rescue() {
    const run = this.run;
    if (!run || this.state !== RECORDING) return;
    const durationSeconds = this.seconds(run);
    const sent = run.upload.rescue();
    if (sent === "done") {
      this.api.complete(run.recordingId, durationSeconds, { keepalive: true }).catch(() => {});
    }
    try {
      run.media.stop();
    } catch (error) {
      // Already stopped.
    }
    run.composer.stop();
    this.run = null;
    this.state = IDLE;
  }
}
