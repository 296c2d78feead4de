// A recording's upload while it runs: an S3 multipart upload straight from the page. The bytes
// are held until a part is full, then cut at exactly the part size (S3 refuses a part under
// 5 MiB unless it is the last), and each part is PUT to the presigned URL the API gives for its
// number, one part at a time, in order. What is held when the recording stops is the last part.
// The server completes the upload from the parts that arrived (S3's own list), so the page
// keeps the ETags only to know a part landed.

import { ApiProblem } from "./api.js";

// A failed PUT is tried again after these pauses, each time with a fresh URL; then the upload
// has failed (what arrived is kept).
const PUT_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 16000];
const PUT_TIMEOUT_MS = 120000; // 5 MiB on a slow uplink
// Presigned part URLs are valid 15 minutes: one older than this is asked for again.
const URL_FRESH_MS = 10 * 60 * 1000;
// Browsers carry at most 64 KiB of keepalive bodies for a page that goes away (with the
// complete request's few bytes beside it).
const KEEPALIVE_MAX_BYTES = 60 * 1024;

/** Why the upload gave up. `reason`: "over" (the server completed the recording: the agent's
 * connection closed, or the call ended), "refused" (the credential is no longer accepted), or
 * "failed" (parts did not arrive after every retry). */
export class UploadFailed extends Error {
  constructor(reason, problem = null) {
    super(`recording upload ${reason}${problem ? ": " + problem.message : ""}`);
    this.reason = reason;
    this.problem = problem;
  }
}

function failureOf(problem) {
  if (!(problem instanceof ApiProblem) || problem.passing) return null; // worth another try
  if (problem.kind === "unauthorized" || problem.kind === "disabled") return new UploadFailed("refused", problem);
  if (problem.kind === "invalidLink") return new UploadFailed("failed", problem);
  return new UploadFailed("over", problem); // recordingOver, ended, expired, notFound
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One recording's parts. `partUrl(partNumber)` resolves to a presigned URL for that part or
 * throws an ApiProblem; `onFailed(UploadFailed)` is told once when the upload gives up.
 */
export class PartUpload {
  constructor({ partSize, maxPartNumber, partUrl, onFailed }) {
    this.partSize = partSize;
    this.maxPartNumber = maxPartNumber;
    this.partUrl = partUrl;
    this.onFailed = onFailed;
    this.held = []; // blobs not yet in a part
    this.heldBytes = 0;
    this.nextPartNumber = 1;
    this.queue = []; // full parts waiting for their turn: {partNumber, blob}
    this.uploaded = []; // {partNumber, size, etag}
    this.ready = null; // the next part's URL, asked for ahead: {partNumber, url, at}
    this.sending = null;
    this.failure = null;
    this.closed = false;
    this.askAhead();
  }

  /** Bytes from the recorder, in order. */
  add(blob) {
    if (this.closed || this.failure || !blob || !blob.size) return;
    this.held.push(blob);
    this.heldBytes += blob.size;
    // The last part the upload may have takes whatever is left.
    while (this.heldBytes >= this.partSize && this.nextPartNumber < this.maxPartNumber) {
      const all = new Blob(this.held);
      this.enqueue(all.slice(0, this.partSize));
      const rest = all.slice(this.partSize);
      this.held = rest.size ? [rest] : [];
      this.heldBytes = rest.size;
    }
  }

  enqueue(blob) {
    this.queue.push({ partNumber: this.nextPartNumber, blob });
    this.nextPartNumber += 1;
    this.pump();
  }

  /** Send the queued parts, one at a time, in order. */
  pump() {
    if (this.sending || this.failure) return;
    this.sending = (async () => {
      while (this.queue.length > 0) {
        await this.send(this.queue[0]);
        this.queue.shift();
      }
    })()
      .catch((failure) => this.fail(failure))
      .finally(() => {
        this.sending = null;
        if (this.queue.length > 0 && !this.failure) this.pump();
      });
  }

  async send(part) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const url = await this.urlFor(part.partNumber);
        // The bytes alone: no header the presigned URL did not sign.
        const response = await fetch(url, {
          method: "PUT",
          body: part.blob,
          cache: "no-store",
          credentials: "omit",
          referrerPolicy: "no-referrer",
          signal: AbortSignal.timeout(PUT_TIMEOUT_MS),
        });
        if (response.ok) {
          this.uploaded.push({ partNumber: part.partNumber, size: part.blob.size, etag: response.headers.get("ETag") });
          if (!this.closed && this.queue.length === 1) this.askAhead(); // the next to send is not cut yet
          return;
        }
      } catch (problem) {
        const failure = failureOf(problem);
        if (failure) throw failure;
      }
      this.ready = null; // an expired or refused URL: ask for a fresh one
      if (attempt >= PUT_RETRY_DELAYS_MS.length) throw new UploadFailed("failed");
      await sleep(PUT_RETRY_DELAYS_MS[attempt]);
    }
  }

  async urlFor(partNumber) {
    const ready = this.ready;
    if (ready && ready.partNumber === partNumber && Date.now() - ready.at < URL_FRESH_MS) return ready.url;
    const url = await this.partUrl(partNumber);
    this.ready = { partNumber, url, at: Date.now() };
    return url;
  }

  /** Ask now for the URL of the part that comes next, so that a page going away has it in hand;
   * an answer that the recording is over is heard at once. */
  askAhead() {
    this.urlFor(this.nextPartNumber).catch((problem) => {
      const failure = failureOf(problem);
      if (failure && !this.closed) this.fail(failure);
    });
  }

  /** Ask the server again whether the recording is still open (after the page's signaling
   * connection came back: the server completes a recording when the agent's connection closes). */
  check() {
    if (this.closed || this.failure) return;
    this.ready = null;
    this.askAhead();
  }

  fail(failure) {
    if (this.failure) return;
    this.failure = failure;
    this.onFailed(failure);
  }

  /** The recording stopped: what is held goes as the last part. Resolves once every part was
   * sent (or the upload gave up) with {parts, failure}. */
  async finish() {
    this.closed = true;
    if (this.heldBytes > 0 && !this.failure) this.enqueue(new Blob(this.held));
    this.held = [];
    this.heldBytes = 0;
    while (this.sending) await this.sending;
    return { parts: this.uploaded, failure: this.failure };
  }

  /**
   * The page is going away (pagehide) and can wait for nothing. What is held goes as the last
   * part to the URL already in hand: with keepalive when the browser allows its size, else as a
   * plain request, which gets through only while the browser lets it (closing a tab, rather than
   * reloading it). Returns "sent" (or "lost": no URL in hand) when bytes were held, "busy" when
   * a part is still on its way (its bytes go on only as far as the browser lets them), and
   * "done" when every byte has landed already.
   */
  rescue() {
    if (this.closed || this.failure) return "done";
    this.closed = true;
    if (this.queue.length > 0) return "busy";
    if (this.heldBytes === 0) return "done";
    const ready = this.ready;
    if (!ready || ready.partNumber !== this.nextPartNumber || Date.now() - ready.at >= URL_FRESH_MS) return "lost";
    fetch(ready.url, {
      method: "PUT",
      body: new Blob(this.held),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
      keepalive: this.heldBytes <= KEEPALIVE_MAX_BYTES,
    }).catch(() => {});
    return "sent";
  }
}
