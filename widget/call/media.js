// The camera and microphone: asking for them, choosing devices, muting, the microphone's level.

const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** What getUserMedia's refusal means for the person: refused, notFound, busy or failed. */
function problemOf(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "refused";
    case "NotFoundError":
    case "OverconstrainedError":
      return "notFound";
    case "NotReadableError":
    case "AbortError":
      return "busy";
    default:
      return "failed";
  }
}

function constraints(kind, deviceId) {
  const base = kind === "video" ? VIDEO : AUDIO;
  return deviceId ? { ...base, deviceId: { exact: deviceId } } : base;
}

/** The person's own camera and microphone, as one MediaStream whose tracks change with devices. */
export class LocalMedia {
  constructor() {
    this.stream = new MediaStream();
    this.problem = null;
  }

  track(kind) {
    return this.stream.getTracks().find((track) => track.kind === kind) || null;
  }

  has(kind) {
    return this.track(kind) !== null;
  }

  /**
   * Ask for camera and microphone. Without a camera (or a microphone), the other one alone.
   * Resolves to null when at least one was granted, else to the problem (see problemOf); a
   * refusal asks no second time, since the browser would only prompt the person again.
   */
  async start(devices = {}) {
    this.stop();
    try {
      this.add(await navigator.mediaDevices.getUserMedia({
        audio: constraints("audio", devices.audio),
        video: constraints("video", devices.video),
      }));
      this.problem = null;
      return null;
    } catch (error) {
      this.problem = problemOf(error);
      if (this.problem === "refused" || !navigator.mediaDevices) return this.problem;
    }
    for (const kind of ["audio", "video"]) {
      try {
        this.add(await navigator.mediaDevices.getUserMedia({ [kind]: constraints(kind, devices[kind]) }));
      } catch (error) {
        // The other kind may still work.
      }
    }
    if (this.stream.getTracks().length > 0) this.problem = null;
    return this.problem;
  }

  add(stream) {
    for (const track of stream.getTracks()) this.stream.addTrack(track);
  }

  /** Use another camera or microphone; the new track keeps the old one's muted state. */
  async useDevice(kind, deviceId) {
    const old = this.track(kind);
    const enabled = old ? old.enabled : true;
    if (old) {
      old.stop();
      this.stream.removeTrack(old);
    }
    const fresh = await navigator.mediaDevices.getUserMedia({ [kind]: constraints(kind, deviceId) });
    const track = fresh.getTracks()[0];
    track.enabled = enabled;
    this.stream.addTrack(track);
    return track;
  }

  /** The cameras and microphones, with labels once access was granted. */
  async devices() {
    const found = { audio: [], video: [] };
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return found;
    for (const device of await navigator.mediaDevices.enumerateDevices()) {
      const kind = device.kind === "audioinput" ? "audio" : device.kind === "videoinput" ? "video" : null;
      if (kind && device.deviceId) found[kind].push({ deviceId: device.deviceId, label: device.label });
    }
    return found;
  }

  /** The device a track of `kind` uses, or "". */
  deviceId(kind) {
    const track = this.track(kind);
    return track ? track.getSettings().deviceId || "" : "";
  }

  /** Mute or unmute: a disabled track sends silence or black, so nothing needs renegotiating. */
  setEnabled(kind, enabled) {
    const track = this.track(kind);
    if (track) track.enabled = enabled;
  }

  isEnabled(kind) {
    const track = this.track(kind);
    return Boolean(track && track.enabled && track.readyState === "live");
  }

  /** Turn camera and microphone off for good (the browser's indicator goes out); joining
   * again asks for them anew. */
  stop() {
    for (const track of this.stream.getTracks()) {
      track.stop();
      this.stream.removeTrack(track);
    }
  }
}

/** The microphone's level, 0 to 1, reported to `onLevel` ten times a second (Web Audio). */
export class LevelMeter {
  constructor(track, onLevel) {
    this.onLevel = onLevel;
    this.context = new AudioContext();
    // Created before any click, the context may start suspended: the first gesture resumes it.
    this.resume = () => this.context.resume().catch(() => {});
    for (const type of ["pointerdown", "keydown"]) {
      document.addEventListener(type, this.resume, { once: true });
    }
    const source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 1024;
    source.connect(this.analyser);
    const samples = new Float32Array(this.analyser.fftSize);
    this.timer = setInterval(() => {
      this.analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      // RMS on a rough log scale: speech at a normal distance reads about halfway.
      const rms = Math.sqrt(sum / samples.length);
      const level = rms > 0 ? Math.min(1, Math.max(0, 1 + Math.log10(rms) / 2.5)) : 0;
      this.onLevel(level);
    }, 100);
  }

  stop() {
    clearInterval(this.timer);
    for (const type of ["pointerdown", "keydown"]) document.removeEventListener(type, this.resume);
    this.context.close().catch(() => {});
    this.onLevel(0);
  }
}
