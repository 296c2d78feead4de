// The peer connection: the browser's own RTCPeerConnection, negotiated over the signaling socket
// with the protocol's rule: the agent offers whenever both are there, the guest answers, and
// either may offer again to restart ICE. Should both offer at once, the guest gives way (it
// rolls its offer back) and the agent ignores the guest's: "perfect negotiation", agent impolite.
//
// A page that is reloaded comes back with a new RTCPeerConnection, and so a new DTLS certificate.
// A description whose fingerprint differs from the one this connection already talks to comes
// from such a new page: the connection is replaced by a fresh one before it is applied. (Chromium
// would restart DTLS on the old connection by itself; a browser need not, and a fresh connection
// carries no state of the old peer.) A socket that merely reconnected keeps both connections,
// and the media never stops.

const FINGERPRINT = /^a=fingerprint:(.+)$/m;
const GUEST_RESTART_AFTER_MS = 4000; // the agent restarts a failed connection first
const DISCONNECTED_RESTART_AFTER_MS = 5000;

function fingerprintOf(sdp) {
  const found = FINGERPRINT.exec(typeof sdp === "string" ? sdp : "");
  return found ? found[1].trim().toLowerCase() : null;
}

function descriptionOf(description) {
  return { type: description.type, sdp: description.sdp };
}

export class PeerLink {
  /**
   * role: "agent" or "guest"; iceServers: RTCConfiguration.iceServers; localStream: the
   * camera and microphone to send (may have no tracks); send(data): relays a
   * signal to the other person; onRemoteStream(stream): the other person's media (a new stream
   * whenever the connection is replaced); onMediaState(state): the connectionState.
   */
  constructor({ role, iceServers, localStream, send, onRemoteStream, onMediaState }) {
    this.role = role;
    this.polite = role === "guest";
    this.iceServers = iceServers;
    this.send = send;
    this.onRemoteStream = onRemoteStream;
    this.onMediaState = onMediaState;
    this.localStream = localStream;
    this.peerPresent = false;
    this.queue = Promise.resolve();
    this.create();
  }

  get state() {
    return this.pc ? this.pc.connectionState : "closed";
  }

  create() {
    let pc;
    try {
      pc = new RTCPeerConnection({ iceServers: this.iceServers });
    } catch (error) {
      // A malformed entry (the join answer's): STUN-less still works on one network.
      console.warn("call page: iceServers refused, connecting without them:", error);
      pc = new RTCPeerConnection();
    }
    this.pc = pc;
    this.makingOffer = false;
    this.restartWanted = false;
    this.remoteFingerprint = null;
    this.pendingCandidates = [];
    this.remoteStream = new MediaStream();
    clearTimeout(this.restartTimer);

    pc.addEventListener("track", ({ track }) => {
      if (pc !== this.pc) return;
      this.remoteStream.addTrack(track);
      this.onRemoteStream(this.remoteStream);
    });
    pc.addEventListener("icecandidate", ({ candidate }) => {
      if (pc !== this.pc) return;
      this.send({ type: "candidate", candidate: candidate ? candidate.toJSON() : null });
    });
    pc.addEventListener("negotiationneeded", () => {
      if (pc !== this.pc) return;
      // The guest offers only to restart ICE; everything else is the agent's to offer.
      if (this.role === "agent" || this.restartWanted) this.negotiate();
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      this.watch(pc);
    });

    this.attach();
    this.onRemoteStream(this.remoteStream);
    this.onMediaState(pc.connectionState);
  }

  /** Send the local tracks. The agent's offer always carries audio and video, so that the
   * guest's camera is received even when the agent has none. */
  attach() {
    const stream = this.localStream;
    for (const kind of ["audio", "video"]) {
      const track = stream ? stream.getTracks().find((t) => t.kind === kind) : null;
      if (track) this.pc.addTrack(track, stream);
      else if (this.role === "agent") this.pc.addTransceiver(kind, { direction: "recvonly" });
    }
  }

  /** A camera or microphone swapped for another one: no renegotiation needed. */
  async replaceTrack(track) {
    const sender = this.pc.getSenders().find((s) => s.track && s.track.kind === track.kind);
    if (sender) await sender.replaceTrack(track);
  }

  /** Whether the other person is on the signaling socket: only then are offers sent. The agent
   * offers as soon as they are (on ready with a peer, on peer-joined). */
  setPeerPresent(present) {
    this.peerPresent = present;
    if (present && this.role === "agent") this.negotiate({ anew: true });
  }

  setIceServers(iceServers) {
    this.iceServers = iceServers;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch (error) {
      // Kept for the next connection.
    }
  }

  run(task) {
    this.queue = this.queue.then(task).catch((error) => console.warn("call page: negotiation:", error));
    return this.queue;
  }

  /** Offer, if the other person is there and no offer is under way. `anew`: they (re)joined,
   * so an offer still unanswered went to a page that may be gone (closed or reloaded before it
   * answered) and would never be answered: it is taken back and made again. */
  negotiate({ anew = false } = {}) {
    return this.run(async () => {
      const pc = this.pc;
      if (!this.peerPresent) return;
      if (anew && pc.signalingState === "have-local-offer") await pc.setLocalDescription({ type: "rollback" });
      if (pc.signalingState !== "stable") return;
      this.makingOffer = true;
      try {
        await pc.setLocalDescription();
        if (pc !== this.pc) return;
        this.send(descriptionOf(pc.localDescription));
      } finally {
        this.makingOffer = false;
        this.restartWanted = false;
      }
    });
  }

  /** A signal from the other person: an offer, an answer or an ICE candidate (null: no more). */
  receive(data) {
    if (!data || typeof data !== "object") return this.queue;
    return this.run(async () => {
      if (data.type === "offer") await this.takeOffer(data);
      else if (data.type === "answer") await this.takeAnswer(data);
      else if (data.type === "candidate") await this.takeCandidate(data.candidate);
    });
  }

  async takeOffer(offer) {
    const fingerprint = fingerprintOf(offer.sdp);
    if (this.remoteFingerprint && fingerprint && fingerprint !== this.remoteFingerprint) this.renew();
    const pc = this.pc;
    const collision = this.makingOffer || pc.signalingState !== "stable";
    if (collision && !this.polite) return;
    // A polite page's own offer is rolled back by this (implicit rollback).
    await pc.setRemoteDescription(descriptionOf(offer));
    this.remoteFingerprint = fingerprint;
    await this.addPendingCandidates();
    await pc.setLocalDescription();
    if (pc !== this.pc) return;
    this.send(descriptionOf(pc.localDescription));
  }

  async takeAnswer(answer) {
    const pc = this.pc;
    if (pc.signalingState !== "have-local-offer") return; // an answer to an offer given up
    const fingerprint = fingerprintOf(answer.sdp);
    if (this.remoteFingerprint && fingerprint && fingerprint !== this.remoteFingerprint) {
      // The other page is a new one: start afresh; the agent offers again.
      this.renew();
      if (this.role === "agent") this.negotiate();
      return;
    }
    await pc.setRemoteDescription(descriptionOf(answer));
    this.remoteFingerprint = fingerprint;
    await this.addPendingCandidates();
  }

  async takeCandidate(candidate) {
    // Candidates may overtake their description on the way (each frame is relayed on its own).
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(candidate);
      return;
    }
    await this.addCandidate(candidate);
  }

  async addPendingCandidates() {
    const pending = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const candidate of pending) await this.addCandidate(candidate);
  }

  async addCandidate(candidate) {
    try {
      // null (no more candidates) becomes the end-of-candidates indication.
      await this.pc.addIceCandidate(candidate || undefined);
    } catch (error) {
      // A candidate of an older connection or ICE generation: of no use any more.
    }
  }

  /** Close this connection and start a fresh one with the same tracks. */
  renew() {
    const old = this.pc;
    this.pc = null;
    old.close();
    this.create();
  }

  /** Restart ICE when the connection fails (or stays disconnected): the agent at once, the guest
   * only if the agent has not done it a little later. */
  watch(pc) {
    const state = pc.connectionState;
    this.onMediaState(state);
    clearTimeout(this.restartTimer);
    if (state === "failed") {
      this.restartTimer = setTimeout(() => this.restartIce(pc), this.polite ? GUEST_RESTART_AFTER_MS : 0);
    } else if (state === "disconnected") {
      this.restartTimer = setTimeout(
        () => this.restartIce(pc),
        DISCONNECTED_RESTART_AFTER_MS + (this.polite ? GUEST_RESTART_AFTER_MS : 0),
      );
    }
  }

  restartIce(pc) {
    if (pc !== this.pc || !this.peerPresent) return;
    if (pc.connectionState !== "failed" && pc.connectionState !== "disconnected") return;
    this.restartWanted = true;
    pc.restartIce(); // fires negotiationneeded, which offers
  }

  close() {
    clearTimeout(this.restartTimer);
    if (this.pc) this.pc.close();
    this.onMediaState("closed");
  }

  /** Bytes received so far over every inbound RTP stream: media still arriving means the
   * other person is still there, whatever their socket does. */
  async inboundBytes() {
    let total = 0;
    if (!this.pc) return total;
    (await this.pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp") total += report.bytesReceived || 0;
    });
    return total;
  }
}
