// What a recording shows: the two people side by side on a canvas, each video with its name, and
// both voices mixed into one track (Web Audio: each microphone's track into one
// MediaStreamAudioDestinationNode). The canvas is drawn on a worker's clock (clock.js), so a
// recording made in a background tab keeps moving: requestAnimationFrame stops there, and the
// page's own timers slow to about once a second.

const WIDTH = 1280;
const HEIGHT = 360;
const TILE_WIDTH = WIDTH / 2;
const FRAME_RATE = 30;
const AUDIO_SYNC_EVERY_TICKS = FRAME_RATE; // about once a second
const BACKGROUND = "#11151c";
const NAME_FONT = "600 20px system-ui, sans-serif";
const NOTE_FONT = "600 24px system-ui, sans-serif";
const NAME_MARGIN = 10;
const NAME_PADDING = 8;
const NAME_HEIGHT = 30;

/** `text` cut with an ellipsis to fit `width` pixels in the context's current font. */
function fitted(context, text, width) {
  if (context.measureText(text).width <= width) return text;
  let cut = text;
  while (cut.length > 1 && context.measureText(cut + "…").width > width) cut = cut.slice(0, -1);
  return cut + "…";
}

/**
 * The call as it looks, as one MediaStream (`stream`): a canvas video track and a mixed audio
 * track. Tiles, left to right, are {stream, name, noVideo}: a person's MediaStream (its video
 * drawn, its audio mixed; tracks may come and go), the name shown on it, and the text to show
 * while it has no video track. `cameraOff` is the text on a tile whose camera is turned off.
 */
export class CallComposer {
  constructor({ tiles, cameraOff }) {
    this.cameraOff = cameraOff;
    this.canvas = document.createElement("canvas");
    this.canvas.width = WIDTH;
    this.canvas.height = HEIGHT;
    this.context2d = this.canvas.getContext("2d", { alpha: false });
    this.tiles = [];
    this.ticks = 0;

    this.audio = new AudioContext();
    // A context made without a click in this page (a reload that resumed the call, in a browser
    // that asks for one) starts suspended: the next click or key resumes it.
    this.resume = () => this.audio.resume().catch(() => {});
    for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, this.resume);
    this.mix = this.audio.createMediaStreamDestination();
    this.sources = new Map(); // audio track -> its MediaStreamAudioSourceNode

    tiles.forEach((tile, index) => this.setTile(index, tile));
    this.draw();
    this.stream = new MediaStream([
      ...this.canvas.captureStream(FRAME_RATE).getVideoTracks(),
      ...this.mix.stream.getAudioTracks(),
    ]);
    this.startClock();
  }

  /**
   * Resolves true once the mix runs: a recorder given a suspended context's mix records
   * nothing at all, not even the picture, until it runs. `waitMs`: how long to wait for it
   * (Infinity: until it runs, or the composer stops).
   */
  audioRunning(waitMs) {
    if (this.audio.state === "running") return Promise.resolve(true);
    return new Promise((resolve) => {
      const settle = () => {
        if (this.audio.state !== "running" && !this.stopped) return;
        this.audio.removeEventListener("statechange", settle);
        clearTimeout(timer);
        resolve(this.audio.state === "running");
      };
      const timer = Number.isFinite(waitMs)
        ? setTimeout(() => {
          this.audio.removeEventListener("statechange", settle);
          resolve(this.audio.state === "running");
        }, waitMs)
        : null;
      this.audio.addEventListener("statechange", settle);
      this.resume();
    });
  }

  /** Show `stream` under `name` in tile `index` (0 left, 1 right). */
  setTile(index, { stream, name, noVideo = "" }) {
    let tile = this.tiles[index];
    if (!tile) {
      const video = document.createElement("video");
      video.muted = true; // heard through the mix only
      video.playsInline = true;
      tile = { video, stream: null, name: "" };
      this.tiles[index] = tile;
    }
    tile.name = typeof name === "string" ? name : "";
    tile.noVideo = noVideo;
    if (tile.stream !== stream) {
      tile.stream = stream || null;
      tile.video.srcObject = tile.stream;
      if (tile.stream) tile.video.play().catch(() => {});
    }
    this.syncAudio();
  }

  /** Every live microphone of the tiles into the mix, and nothing else. */
  syncAudio() {
    const wanted = new Set();
    for (const tile of this.tiles) {
      for (const track of tile.stream ? tile.stream.getAudioTracks() : []) {
        if (track.readyState === "live") wanted.add(track);
      }
    }
    for (const [track, source] of this.sources) {
      if (wanted.has(track)) continue;
      source.disconnect();
      this.sources.delete(track);
    }
    for (const track of wanted) {
      if (this.sources.has(track)) continue;
      const source = this.audio.createMediaStreamSource(new MediaStream([track]));
      source.connect(this.mix);
      this.sources.set(track, source);
    }
  }

  startClock() {
    const tick = () => {
      this.draw();
      this.ticks += 1;
      if (this.ticks % AUDIO_SYNC_EVERY_TICKS === 0) this.syncAudio(); // a new device, a renewed connection
    };
    const period = Math.round(1000 / FRAME_RATE);
    const fallBack = () => {
      if (this.worker) this.worker.terminate();
      this.worker = null;
      if (!this.timer && !this.stopped) this.timer = setInterval(tick, period);
    };
    try {
      this.worker = new Worker(new URL("./clock.js", import.meta.url));
      this.worker.addEventListener("message", tick);
      this.worker.addEventListener("error", fallBack);
      this.worker.postMessage(period);
    } catch (error) {
      fallBack(); // no workers here: the page's own timer, slower in a background tab
    }
  }

  draw() {
    const context = this.context2d;
    context.fillStyle = BACKGROUND;
    context.fillRect(0, 0, WIDTH, HEIGHT);
    this.tiles.forEach((tile, index) => this.drawTile(tile, index * TILE_WIDTH));
    context.fillStyle = "#fff";
    context.fillRect(TILE_WIDTH - 1, 0, 2, HEIGHT);
  }

  drawTile(tile, left) {
    const context = this.context2d;
    const { video } = tile;
    const track = tile.stream ? tile.stream.getVideoTracks().find((t) => t.readyState === "live") : null;
    let note = "";
    if (!track) note = tile.noVideo;
    else if (!track.enabled) note = this.cameraOff;
    const picture =
      track && track.enabled && video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && video.videoWidth > 0;
    if (picture) {
      // Whole, as on the page ("contain"), and not mirrored: a recording reads the right way round.
      const scale = Math.min(TILE_WIDTH / video.videoWidth, HEIGHT / video.videoHeight);
      const width = video.videoWidth * scale;
      const height = video.videoHeight * scale;
      context.drawImage(video, left + (TILE_WIDTH - width) / 2, (HEIGHT - height) / 2, width, height);
    } else if (note) {
      context.font = NOTE_FONT;
      context.fillStyle = "#fff";
      context.textAlign = "center";
      context.textBaseline = "middle";
      context.fillText(fitted(context, note, TILE_WIDTH - 2 * NAME_MARGIN), left + TILE_WIDTH / 2, HEIGHT / 2);
    }
    if (tile.name) this.drawName(tile.name, left);
  }

  /** The name in the tile's lower left corner, as the page shows it: text, cut to fit. */
  drawName(name, left) {
    const context = this.context2d;
    context.font = NAME_FONT;
    context.textAlign = "left";
    context.textBaseline = "middle";
    const text = fitted(context, name, TILE_WIDTH - 2 * (NAME_MARGIN + NAME_PADDING));
    const width = context.measureText(text).width + 2 * NAME_PADDING;
    const top = HEIGHT - NAME_MARGIN - NAME_HEIGHT;
    context.fillStyle = "rgb(0 0 0 / 0.6)";
    context.fillRect(left + NAME_MARGIN, top, width, NAME_HEIGHT);
    context.fillStyle = "#fff";
    context.fillText(text, left + NAME_MARGIN + NAME_PADDING, top + NAME_HEIGHT / 2);
  }

  stop() {
    this.stopped = true;
    if (this.worker) this.worker.terminate();
    this.worker = null;
    clearInterval(this.timer);
    this.timer = null;
    for (const type of ["pointerdown", "keydown"]) document.removeEventListener(type, this.resume);
    for (const track of this.stream.getTracks()) track.stop(); // the canvas's and the mix's, not the people's
    for (const tile of this.tiles) tile.video.srcObject = null;
    for (const source of this.sources.values()) source.disconnect();
    this.sources.clear();
    this.audio.close().catch(() => {});
  }
}
