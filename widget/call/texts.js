// Every text the call page shows, by language. English is the fallback for any language without
// a table and for any key a table lacks. {name} marks a value filled in at run time.
// index.html names its fixed texts with data-text="key"; the rest are chosen by state.

export const TEXTS = {
  en: {
    title: "Video call",
    loading: "Opening the call…",

    error_unauthorized:
      "This agent link is not valid (any more). Open the call again from where it was started, " +
      "or start a new call.",
    error_disabled: "Video calls are switched off for this app. Please ask your administrator.",
    error_notFound: "There is no such call. Check that the link is complete, or ask for a new one.",
    error_invalidLink: "This call link is not valid. Please ask for a new one.",
    error_network: "Couldn't reach the video call service. Check your internet connection and try again.",
    error_unexpected: "Something went wrong while opening the call. Please try again.",
    reference: "(Reference: {id})",
    retry: "Try again",

    prejoinPreview: "Check your camera and microphone, then join.",
    prejoinOneClick: "Select Join to enter the call with your camera and microphone.",
    preview: "Your camera",
    cameraOff: "Camera off",
    noCamera: "No camera",
    micLevel: "Microphone level",
    cameraSelect: "Camera",
    micSelect: "Microphone",
    micMute: "Mute microphone",
    micUnmute: "Unmute microphone",
    camOff: "Turn camera off",
    camOn: "Turn camera on",
    nameLabel: "Your name",
    nameHint: "The other person sees this name.",
    recordNotice: "This call will be recorded when both of you are in it.",
    join: "Join",
    joinWithout: "Join without camera and microphone",
    media_refused:
      "Your browser did not allow the camera and microphone. Allow them (usually with the camera " +
      "icon in the address bar) and try again, or join without them.",
    media_notFound: "No camera or microphone was found. You can join without them.",
    media_busy:
      "Your camera or microphone is in use by another app. Close that app and try again, or join without them.",
    media_failed: "Your camera and microphone could not be started. Try again, or join without them.",

    joining: "Joining the call…",
    waitingForAgent: "Waiting for the agent to join…",
    waitingForGuest: "Waiting for your guest to join…",
    waitingFor: "Waiting for {name}…",
    inCallWith: "You are in the call with {name}.",
    agent: "Agent",
    guest: "Guest",
    you: "You",
    mediaConnecting: "Connecting…",
    reconnecting: "The connection was lost. Reconnecting…",
    soundBlocked: "Your browser paused the call's sound.",
    soundOn: "Turn sound on",
    controls: "Call controls",
    leave: "Leave",
    end: "End call for everyone",
    endConfirm: "End the call for everyone? It cannot be restarted.",
    endYes: "Yes, end the call",
    endNo: "Keep the call",
    ending: "Ending the call…",
    endFailed_network: "The call could not be ended: the service did not answer. Please try again.",
    endFailed_refused: "The call could not be ended: this page's agent link is no longer accepted.",
    endFailed_unexpected: "The call could not be ended. Please try again.",
    recordingNow: "This call is being recorded",
    record: "Record",
    recordStop: "Stop recording",
    recordStarting: "Starting the recording…",
    recordSaving: "Saving the recording…",
    recordProblem_needsGesture:
      "The recording starts with your next click or key press: your browser waits for one before it mixes the sound.",
    recordProblem_unsupported: "This browser cannot record the call. The call goes on.",
    recordProblem_busy:
      "The recording could not start: this call is already being recorded, perhaps in another tab. " +
      "The call goes on.",
    recordProblem_ended: "The recording could not start: the call has ended.",
    recordProblem_refused:
      "The recording could not start: this page's agent link is no longer accepted. The call goes on.",
    recordProblem_network:
      "The recording could not start: the service did not answer. The call goes on; select Record to try again.",
    recordProblem_unexpected: "The recording could not start. The call goes on; select Record to try again.",
    recordProblem_uploadFailed:
      "The recording stopped: its upload failed. What was uploaded is kept; select Record to start a new one.",
    recordProblem_uploadRefused:
      "The recording stopped: this page's agent link is no longer accepted. What was uploaded is kept.",

    ended_ended: "The call has ended.",
    ended_expired: "This call has expired.",
    ended_byYou: "You ended the call for everyone.",
    ended_left: "You left the call.",
    ended_replaced:
      "This call was opened in another tab or on another device, and continues there. " +
      "Camera and microphone are off here.",
    closeHint: "You can close this page.",
    rejoin: "Join again",
    continueHere: "Continue here",
  },
  de: {
    title: "Videoanruf",
    loading: "Der Anruf wird geöffnet…",

    error_unauthorized:
      "Dieser Agent-Link ist nicht (mehr) gültig. Öffnen Sie den Anruf erneut dort, wo er gestartet " +
      "wurde, oder starten Sie einen neuen Anruf.",
    error_disabled: "Videoanrufe sind für diese App ausgeschaltet. Bitte wenden Sie sich an Ihre Administration.",
    error_notFound:
      "Diesen Anruf gibt es nicht. Prüfen Sie, ob der Link vollständig ist, oder bitten Sie um einen neuen.",
    error_invalidLink: "Dieser Link zum Anruf ist nicht gültig. Bitte fragen Sie nach einem neuen.",
    error_network:
      "Der Videoanruf-Dienst ist nicht erreichbar. Prüfen Sie Ihre Internetverbindung und versuchen Sie es erneut.",
    error_unexpected: "Beim Öffnen des Anrufs ist etwas schiefgegangen. Bitte versuchen Sie es erneut.",
    reference: "(Referenz: {id})",
    retry: "Erneut versuchen",

    prejoinPreview: "Prüfen Sie Kamera und Mikrofon, dann treten Sie bei.",
    prejoinOneClick: "Wählen Sie „Beitreten“, um mit Kamera und Mikrofon am Anruf teilzunehmen.",
    preview: "Ihre Kamera",
    cameraOff: "Kamera aus",
    noCamera: "Keine Kamera",
    micLevel: "Mikrofonpegel",
    cameraSelect: "Kamera",
    micSelect: "Mikrofon",
    micMute: "Mikrofon stummschalten",
    micUnmute: "Stummschaltung aufheben",
    camOff: "Kamera ausschalten",
    camOn: "Kamera einschalten",
    nameLabel: "Ihr Name",
    nameHint: "Diesen Namen sieht Ihr Gegenüber.",
    recordNotice: "Dieser Anruf wird aufgezeichnet, sobald Sie beide im Anruf sind.",
    join: "Beitreten",
    joinWithout: "Ohne Kamera und Mikrofon beitreten",
    media_refused:
      "Ihr Browser hat Kamera und Mikrofon nicht erlaubt. Erlauben Sie sie (meist über das " +
      "Kamerasymbol in der Adressleiste) und versuchen Sie es erneut, oder treten Sie ohne sie bei.",
    media_notFound: "Es wurde keine Kamera und kein Mikrofon gefunden. Sie können ohne sie beitreten.",
    media_busy:
      "Kamera oder Mikrofon werden von einer anderen App verwendet. Schließen Sie diese App und " +
      "versuchen Sie es erneut, oder treten Sie ohne sie bei.",
    media_failed:
      "Kamera und Mikrofon konnten nicht gestartet werden. Versuchen Sie es erneut, oder treten Sie ohne sie bei.",

    joining: "Sie treten dem Anruf bei…",
    waitingForAgent: "Warten, bis der Agent beitritt…",
    waitingForGuest: "Warten, bis Ihr Gast beitritt…",
    waitingFor: "Warten auf {name}…",
    inCallWith: "Sie sind im Anruf mit {name}.",
    agent: "Agent",
    guest: "Gast",
    you: "Sie",
    mediaConnecting: "Verbindung wird aufgebaut…",
    reconnecting: "Die Verbindung ist unterbrochen. Sie wird wiederhergestellt…",
    soundBlocked: "Ihr Browser hat den Ton des Anrufs angehalten.",
    soundOn: "Ton einschalten",
    controls: "Steuerung des Anrufs",
    leave: "Verlassen",
    end: "Anruf für alle beenden",
    endConfirm: "Den Anruf für alle beenden? Er kann nicht wieder gestartet werden.",
    endYes: "Ja, Anruf beenden",
    endNo: "Anruf fortsetzen",
    ending: "Der Anruf wird beendet…",
    endFailed_network:
      "Der Anruf konnte nicht beendet werden: Der Dienst hat nicht geantwortet. Bitte versuchen Sie es erneut.",
    endFailed_refused:
      "Der Anruf konnte nicht beendet werden: Der Agent-Link dieser Seite wird nicht mehr akzeptiert.",
    endFailed_unexpected: "Der Anruf konnte nicht beendet werden. Bitte versuchen Sie es erneut.",
    recordingNow: "Dieser Anruf wird aufgezeichnet",
    record: "Aufnehmen",
    recordStop: "Aufnahme beenden",
    recordStarting: "Die Aufnahme wird gestartet…",
    recordSaving: "Die Aufnahme wird gespeichert…",
    recordProblem_needsGesture:
      "Die Aufnahme beginnt mit Ihrem nächsten Klick oder Tastendruck: Erst dann lässt Ihr Browser den " +
      "Ton mischen.",
    recordProblem_unsupported: "Dieser Browser kann den Anruf nicht aufzeichnen. Der Anruf geht weiter.",
    recordProblem_busy:
      "Die Aufnahme konnte nicht starten: Dieser Anruf wird bereits aufgezeichnet, vielleicht in einem " +
      "anderen Tab. Der Anruf geht weiter.",
    recordProblem_ended: "Die Aufnahme konnte nicht starten: Der Anruf ist beendet.",
    recordProblem_refused:
      "Die Aufnahme konnte nicht starten: Der Agent-Link dieser Seite wird nicht mehr akzeptiert. " +
      "Der Anruf geht weiter.",
    recordProblem_network:
      "Die Aufnahme konnte nicht starten: Der Dienst hat nicht geantwortet. Der Anruf geht weiter; " +
      "wählen Sie „Aufnehmen“, um es erneut zu versuchen.",
    recordProblem_unexpected:
      "Die Aufnahme konnte nicht starten. Der Anruf geht weiter; wählen Sie „Aufnehmen“, um es erneut " +
      "zu versuchen.",
    recordProblem_uploadFailed:
      "Die Aufnahme wurde beendet: Das Hochladen ist fehlgeschlagen. Was schon hochgeladen ist, bleibt " +
      "erhalten; wählen Sie „Aufnehmen“ für eine neue Aufnahme.",
    recordProblem_uploadRefused:
      "Die Aufnahme wurde beendet: Der Agent-Link dieser Seite wird nicht mehr akzeptiert. Was schon " +
      "hochgeladen ist, bleibt erhalten.",

    ended_ended: "Der Anruf ist beendet.",
    ended_expired: "Dieser Anruf ist abgelaufen.",
    ended_byYou: "Sie haben den Anruf für alle beendet.",
    ended_left: "Sie haben den Anruf verlassen.",
    ended_replaced:
      "Dieser Anruf wurde in einem anderen Tab oder auf einem anderen Gerät geöffnet und geht dort " +
      "weiter. Kamera und Mikrofon sind hier aus.",
    closeHint: "Sie können diese Seite schließen.",
    rejoin: "Erneut beitreten",
    continueHere: "Hier fortsetzen",
  },
};

/**
 * The first of `tags` (BCP 47, most wanted first) whose primary language has a table, else "en".
 * Pass the join answer's language first, then the browser's.
 */
export function pickLanguage(tags) {
  for (const tag of tags) {
    if (typeof tag !== "string") continue;
    const primary = tag.split(/[-_]/)[0].toLowerCase();
    if (Object.hasOwn(TEXTS, primary)) return primary;
  }
  return "en";
}

/** A function that gives the text of `key` in `language`, its {names} filled from `values`. */
export function textsFor(language) {
  const table = TEXTS[language] || TEXTS.en;
  return function t(key, values) {
    const text = Object.hasOwn(table, key) ? table[key] : TEXTS.en[key];
    if (text === undefined) return key;
    return text.replace(/\{(\w+)\}/g, (match, name) =>
      values && Object.hasOwn(values, name) ? String(values[name]) : match,
    );
  };
}
