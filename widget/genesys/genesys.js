/*!
 * Video Calls for Genesys Cloud: the agent's panel for a conversation's video call. No dependencies.
 *
 * Meant to be the Application URL of a Genesys Cloud "Interaction Widget" integration:
 *
 *   https://HOST/genesys/?conversationId={{gcConversationId}}&gcHostOrigin={{gcHostOrigin}}
 *     &gcTargetEnv={{gcTargetEnv}}&gcLangTag={{gcLangTag}}&gcUsePopupAuth={{gcUsePopupAuth}}
 *     &appId=YOUR_APP_ID&widgetKey=YOUR_WIDGET_KEY
 *
 * The API is this page's own origin, or what the script tag of a hosted copy of index.html names
 * in data-api-base; never the address's query string, so that a crafted link cannot send the
 * credentials to another server. A hosted copy's script tag may also carry data-app-id and
 * data-widget-key. Genesys reloads the page whenever the agent switches interactions or reloads,
 * so the page never creates a call on load: it looks the conversation's call up, and creates
 * one only on a click, with an Idempotency-Key derived from the conversation. See docs/genesys.md.
 */
(function (global) {
  "use strict";

  const doc = global.document;
  const CALLS_PATH = "/api/calls";
  const TIMEOUT_MS = 20000;
  const GENESYS_FIELDS = ["conversationId", "gcHostOrigin", "gcTargetEnv", "gcLangTag", "gcUsePopupAuth"];
  const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
  // A filtered list page may be empty while more pages follow; a conversation has few calls.
  const MAX_LOOKUP_PAGES = 50;
  const MAX_IN_USE_RETRIES = 5;
  // A replayed create may name a call that has ended meanwhile: derive the next key from it.
  const MAX_START_ROUNDS = 3;
  const HOST_LINK_STORAGE_PREFIX = "videoCalls.genesys.hostLink.";

  // Every text the agent reads, by language; English is the fallback for any other gcLangTag.
  // {name} marks a value filled in at run time.
  const TEXTS = {
    en: {
      title: "Video call",
      loading: "Looking for this conversation's video call…",
      noCall: "No video call is running for this conversation.",
      start: "Start video call",
      startNew: "Start a new video call",
      starting: "Starting the video call…",
      started: "The video call is ready.",
      found: "This conversation already has a video call.",
      statusLabel: "Status:",
      status_created: "Ready to join",
      status_ended: "Ended",
      status_expired: "Expired",
      startedAt: "Started at {time}.",
      endedAt: "Ended at {time}.",
      agentJoinedAt: "You joined at {time}.",
      guestJoinedAt: "The customer joined at {time}.",
      joinAsAgent: "Join as agent",
      hostLinkGone:
        "The agent link is given only once, when the call is started, and only the browser tab " +
        "that started it keeps it. This page can no longer offer it: join from that tab, or end " +
        "this call and start a new one.",
      guestLinkLabel: "Link for the customer",
      guestLinkHint: "Paste it into the chat.",
      copy: "Copy link",
      copied: "Link copied. Paste it into the chat.",
      copyFailed: "The link couldn't be copied automatically. It is selected: press Ctrl+C (⌘C on a Mac).",
      refresh: "Refresh",
      refreshing: "Checking the call's status…",
      refreshed: "Status updated.",
      end: "End call",
      endConfirm: "End the video call for everyone? The customer's link stops working.",
      endYes: "Yes, end the call",
      endCancel: "Keep the call",
      ending: "Ending the video call…",
      ended: "The video call has ended.",
      expired: "This video call has expired.",
      retry: "Try again",
      reference: "(Reference: {id})",
      setupTitle: "Open this page from Genesys Cloud",
      setupIntro:
        "This is the agent's video call panel for Genesys Cloud conversations. Genesys Cloud opens " +
        "it inside an interaction, with the conversation and the app's credentials in its address.",
      setupMissing: "Missing from this page's address: {names}.",
      setupHow:
        "To set it up, a Genesys Cloud administrator adds an Interaction Widget integration " +
        "(Admin > Integrations) with this Application URL, filled in with the app's ID and widget key:",
      setupApiBase:
        "The page uses the video call API at its own address. A copy hosted elsewhere names the API " +
        "in the data-api-base attribute of its script tag, never in the Application URL.",
      setupDocs: "The full guide is docs/genesys.md in the Video Calls API repository.",
      missing_conversationId: "the conversation (conversationId)",
      missing_appId: "the app ID (appId)",
      missing_widgetKey: "the widget key (widgetKey)",
      setupBadApiBase: "The data-api-base attribute of this page's script tag is not an http or https address.",
      inSeconds: "in {n} seconds",
      inOneSecond: "in 1 second",
      inAFewSeconds: "in a few seconds",
      error_NETWORK_ERROR:
        "Couldn't reach the video call service. Check your internet connection and try again.",
      error_TIMEOUT: "The video call service took too long to answer. Please try again.",
      error_UNAUTHORIZED:
        "The video call service did not accept this integration's app ID or widget key. Ask your " +
        "Genesys Cloud administrator to check the integration's Application URL.",
      error_APP_DISABLED:
        "Video calls are switched off for this app. Ask your Genesys Cloud administrator.",
      error_ORIGIN_NOT_ALLOWED:
        "Video calls can't be used from this page's address ({origin}): it is not on the app's " +
        "list of allowed origins. Ask your administrator to add it.",
      error_VALIDATION_ERROR:
        "The video call service did not accept this conversation's details{details}. Ask your " +
        "administrator to check the integration's Application URL.",
      error_PRESET_NOT_FOUND:
        "This app's call settings (preset) no longer exist. Ask your administrator to fix the app's preset.",
      error_IDEMPOTENCY_KEY_IN_USE:
        "Another window is starting this conversation's call right now. Please try again {when}.",
      error_IDEMPOTENCY_KEY_REUSED:
        "Another window started this conversation's call with different details. Please try again.",
      error_CALL_NOT_FOUND: "This video call no longer exists. You can start a new one.",
      error_CALL_EXPIRED: "This video call has expired and can no longer be ended.",
      error_INVALID_CURSOR: "The list of calls could not be read. Please try again.",
      error_SERVICE_UNAVAILABLE: "The video call service is busy right now. Please try again {when}.",
      error_TOO_MANY_REQUESTS: "Too many requests right now. Please try again {when}.",
      error_INTERNAL_ERROR:
        "Something went wrong in the video call service. Please try again; if it keeps happening, " +
        "tell your administrator.",
      error_BAD_REQUEST:
        "The video call service could not read this page's request. Ask your administrator.",
      error_WRONG_ADDRESS:
        "The video call service was not found at the configured address. Ask your administrator to " +
        "check this page's API address (data-api-base).",
      error_GATEWAY: "The video call service didn't answer in time. Please try again in a moment.",
      error_UNEXPECTED_ANSWER:
        "The video call service answered in a way this page doesn't understand. Ask your " +
        "administrator to check this page's API address (data-api-base).",
      error_NEEDS_HTTPS:
        "This conversation's ID is too long to start a call from a page that is not served over " +
        "HTTPS. Ask your administrator to host this page on HTTPS.",
      error_HTTP: "The request failed (HTTP {status}). Please try again later.",
    },
    de: {
      title: "Videoanruf",
      loading: "Der Videoanruf dieser Konversation wird gesucht…",
      noCall: "Für diese Konversation läuft kein Videoanruf.",
      start: "Videoanruf starten",
      startNew: "Neuen Videoanruf starten",
      starting: "Der Videoanruf wird gestartet…",
      started: "Der Videoanruf ist bereit.",
      found: "Diese Konversation hat bereits einen Videoanruf.",
      statusLabel: "Status:",
      status_created: "Bereit zum Beitreten",
      status_ended: "Beendet",
      status_expired: "Abgelaufen",
      startedAt: "Gestartet um {time}.",
      endedAt: "Beendet um {time}.",
      agentJoinedAt: "Sie sind um {time} beigetreten.",
      guestJoinedAt: "Der Kunde ist um {time} beigetreten.",
      joinAsAgent: "Als Agent beitreten",
      hostLinkGone:
        "Der Agent-Link wird nur einmal ausgegeben, beim Starten des Anrufs, und nur der Browser-Tab, " +
        "der ihn gestartet hat, behält ihn. Diese Seite kann ihn nicht mehr anbieten: Treten Sie in " +
        "jenem Tab bei, oder beenden Sie diesen Anruf und starten Sie einen neuen.",
      guestLinkLabel: "Link für den Kunden",
      guestLinkHint: "Fügen Sie ihn in den Chat ein.",
      copy: "Link kopieren",
      copied: "Link kopiert. Fügen Sie ihn in den Chat ein.",
      copyFailed:
        "Der Link konnte nicht automatisch kopiert werden. Er ist markiert: Drücken Sie Strg+C (⌘C auf dem Mac).",
      refresh: "Aktualisieren",
      refreshing: "Der Status des Anrufs wird geprüft…",
      refreshed: "Status aktualisiert.",
      end: "Anruf beenden",
      endConfirm: "Den Videoanruf für alle beenden? Der Link des Kunden funktioniert dann nicht mehr.",
      endYes: "Ja, Anruf beenden",
      endCancel: "Anruf behalten",
      ending: "Der Videoanruf wird beendet…",
      ended: "Der Videoanruf wurde beendet.",
      expired: "Dieser Videoanruf ist abgelaufen.",
      retry: "Erneut versuchen",
      reference: "(Referenz: {id})",
      setupTitle: "Öffnen Sie diese Seite aus Genesys Cloud",
      setupIntro:
        "Dies ist die Videoanruf-Ansicht des Agenten für Konversationen in Genesys Cloud. Genesys Cloud " +
        "öffnet sie in einer Interaktion, mit der Konversation und den Zugangsdaten der App in der Adresse.",
      setupMissing: "In der Adresse dieser Seite fehlt: {names}.",
      setupHow:
        "Zur Einrichtung legt ein Genesys-Cloud-Administrator eine Integration vom Typ „Interaction " +
        "Widget“ an (Admin > Integrations), mit dieser Application URL, ergänzt um die App-ID und den " +
        "Widget-Schlüssel der App:",
      setupApiBase:
        "Die Seite nutzt die Videoanruf-API unter ihrer eigenen Adresse. Eine anderswo gehostete Kopie " +
        "nennt die API im Attribut data-api-base ihres Skript-Tags, nie in der Application URL.",
      setupDocs: "Die vollständige Anleitung steht in docs/genesys.md im Repository der Video Calls API.",
      missing_conversationId: "die Konversation (conversationId)",
      missing_appId: "die App-ID (appId)",
      missing_widgetKey: "der Widget-Schlüssel (widgetKey)",
      setupBadApiBase: "Das Attribut data-api-base im Skript-Tag dieser Seite ist keine http- oder https-Adresse.",
      inSeconds: "in {n} Sekunden",
      inOneSecond: "in 1 Sekunde",
      inAFewSeconds: "in einigen Sekunden",
      error_NETWORK_ERROR:
        "Der Videoanruf-Dienst ist nicht erreichbar. Prüfen Sie Ihre Internetverbindung und versuchen Sie es erneut.",
      error_TIMEOUT: "Der Videoanruf-Dienst hat zu lange nicht geantwortet. Bitte versuchen Sie es erneut.",
      error_UNAUTHORIZED:
        "Der Videoanruf-Dienst hat die App-ID oder den Widget-Schlüssel dieser Integration nicht " +
        "akzeptiert. Bitten Sie Ihren Genesys-Cloud-Administrator, die Application URL der Integration zu prüfen.",
      error_APP_DISABLED:
        "Videoanrufe sind für diese App abgeschaltet. Wenden Sie sich an Ihren Genesys-Cloud-Administrator.",
      error_ORIGIN_NOT_ALLOWED:
        "Videoanrufe können von der Adresse dieser Seite ({origin}) nicht genutzt werden: Sie steht nicht " +
        "auf der Liste der erlaubten Origins der App. Bitten Sie Ihren Administrator, sie hinzuzufügen.",
      error_VALIDATION_ERROR:
        "Der Videoanruf-Dienst hat die Angaben dieser Konversation nicht akzeptiert{details}. Bitten Sie " +
        "Ihren Administrator, die Application URL der Integration zu prüfen.",
      error_PRESET_NOT_FOUND:
        "Die Anrufeinstellungen (Preset) dieser App gibt es nicht mehr. Bitten Sie Ihren Administrator, " +
        "das Preset der App zu korrigieren.",
      error_IDEMPOTENCY_KEY_IN_USE:
        "Ein anderes Fenster startet gerade den Anruf dieser Konversation. Bitte versuchen Sie es {when} erneut.",
      error_IDEMPOTENCY_KEY_REUSED:
        "Ein anderes Fenster hat den Anruf dieser Konversation mit anderen Angaben gestartet. Bitte " +
        "versuchen Sie es erneut.",
      error_CALL_NOT_FOUND: "Diesen Videoanruf gibt es nicht mehr. Sie können einen neuen starten.",
      error_CALL_EXPIRED: "Dieser Videoanruf ist abgelaufen und kann nicht mehr beendet werden.",
      error_INVALID_CURSOR: "Die Liste der Anrufe konnte nicht gelesen werden. Bitte versuchen Sie es erneut.",
      error_SERVICE_UNAVAILABLE:
        "Der Videoanruf-Dienst ist gerade ausgelastet. Bitte versuchen Sie es {when} erneut.",
      error_TOO_MANY_REQUESTS: "Gerade kommen zu viele Anfragen. Bitte versuchen Sie es {when} erneut.",
      error_INTERNAL_ERROR:
        "Im Videoanruf-Dienst ist ein Fehler aufgetreten. Bitte versuchen Sie es erneut; wenn es wieder " +
        "passiert, informieren Sie Ihren Administrator.",
      error_BAD_REQUEST:
        "Der Videoanruf-Dienst konnte die Anfrage dieser Seite nicht lesen. Wenden Sie sich an Ihren Administrator.",
      error_WRONG_ADDRESS:
        "Unter der eingestellten Adresse wurde kein Videoanruf-Dienst gefunden. Bitten Sie Ihren " +
        "Administrator, die API-Adresse dieser Seite (data-api-base) zu prüfen.",
      error_GATEWAY:
        "Der Videoanruf-Dienst hat nicht rechtzeitig geantwortet. Bitte versuchen Sie es gleich noch einmal.",
      error_UNEXPECTED_ANSWER:
        "Die Antwort des Videoanruf-Dienstes ist für diese Seite unverständlich. Bitten Sie Ihren " +
        "Administrator, die API-Adresse dieser Seite (data-api-base) zu prüfen.",
      error_NEEDS_HTTPS:
        "Die ID dieser Konversation ist zu lang, um einen Anruf von einer Seite ohne HTTPS zu starten. " +
        "Bitten Sie Ihren Administrator, diese Seite über HTTPS bereitzustellen.",
      error_HTTP: "Die Anfrage ist fehlgeschlagen (HTTP {status}). Bitte versuchen Sie es später erneut.",
    },
  };

  const SETUP_URL_TEMPLATE =
    "https://YOUR_HOST/genesys/?conversationId={{gcConversationId}}&gcHostOrigin={{gcHostOrigin}}" +
    "&gcTargetEnv={{gcTargetEnv}}&gcLangTag={{gcLangTag}}&gcUsePopupAuth={{gcUsePopupAuth}}" +
    "&appId=YOUR_APP_ID&widgetKey=YOUR_WIDGET_KEY";

  // Captured now: document.currentScript is only set while this file first runs.
  const currentScript = doc.currentScript;

  // ---- Configuration: this page's own address and its script tag's data attributes ----

  /** A value Genesys did not fill in ("{{gcConversationId}}" left as typed) counts as missing. */
  function given(value) {
    if (typeof value !== "string") return null;
    const trimmed = value.trim();
    return trimmed && !/^\{\{.*\}\}$/.test(trimmed) ? trimmed : null;
  }

  function booleanParameter(value) {
    const text = (value || "").toLowerCase();
    if (text === "true" || text === "1") return true;
    if (text === "false" || text === "0") return false;
    return null;
  }

  function httpBase(value) {
    try {
      const url = new URL(value, global.location.href);
      if (url.protocol !== "https:" && url.protocol !== "http:") return null;
      return url.href.replace(/\/+$/, "");
    } catch (error) {
      return null;
    }
  }

  /**
   * A data attribute of a hosted copy wins over the query string: it is what the copy's owner
   * fixed. The API address is never read from the query string: it is the copy's data-api-base,
   * else this page's own origin, so that a crafted link cannot send the credentials elsewhere
   * (nor show another server's answers and links inside Genesys Cloud).
   */
  function readConfiguration() {
    const query = new URLSearchParams(global.location.search);
    const attributes = currentScript ? currentScript.dataset : {};
    const value = (name) => given(attributes[name]) || given(query.get(name));
    const config = { genesys: {} };
    for (const name of GENESYS_FIELDS) {
      const found = value(name);
      if (found === null) continue;
      if (name === "gcUsePopupAuth") {
        const flag = booleanParameter(found);
        if (flag !== null) config.genesys[name] = flag;
      } else {
        config.genesys[name] = found;
      }
    }
    config.conversationId = config.genesys.conversationId || null;
    config.appId = value("appId");
    config.widgetKey = value("widgetKey");
    const apiBase = given(attributes.apiBase);
    config.apiBase = apiBase ? httpBase(apiBase) : httpBase(global.location.origin);
    config.missing = [];
    if (!config.conversationId) config.missing.push("conversationId");
    if (!config.appId) config.missing.push("appId");
    if (!config.widgetKey) config.missing.push("widgetKey");
    return config;
  }

  /** "de-de", "de_AT", "DE" -> "de"; anything without a table -> "en". */
  function languageFor(tag) {
    const primary = (tag || "").toLowerCase().split(/[-_]/)[0];
    return Object.prototype.hasOwnProperty.call(TEXTS, primary) ? primary : "en";
  }

  const config = readConfiguration();
  const language = languageFor(config.genesys.gcLangTag);
  const texts = TEXTS[language];

  function t(name, values) {
    const text = Object.prototype.hasOwnProperty.call(texts, name) ? texts[name] : TEXTS.en[name] || "";
    return text.replace(/\{(\w+)\}/g, (whole, key) => (values && key in values ? String(values[key]) : whole));
  }

  function timeOf(isoTimestamp) {
    const moment = new Date(isoTimestamp);
    if (Number.isNaN(moment.getTime())) return null;
    return new Intl.DateTimeFormat(language, { hour: "numeric", minute: "2-digit" }).format(moment);
  }

  // ---- The page ----

  const root = doc.getElementById("video-calls-genesys") || doc.body.appendChild(doc.createElement("main"));
  root.id = "video-calls-genesys";
  root.classList.add("vcg");
  const heading = root.querySelector("h1") || root.appendChild(doc.createElement("h1"));
  heading.id = heading.id || "vcg-title";
  root.setAttribute("aria-labelledby", heading.id);
  const message = root.querySelector(".vcg-message") || root.appendChild(element("p", "vcg-message"));
  message.setAttribute("role", "status");
  message.setAttribute("aria-live", "polite");
  const panel = root.querySelector(".vcg-panel") || root.appendChild(element("div", "vcg-panel"));

  doc.documentElement.lang = language;
  doc.title = t("title");
  heading.textContent = t("title");

  function element(tag, className, text) {
    const node = doc.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function button(text, className, onClick) {
    const node = element("button", "vcg-button " + (className || ""), text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function say(text, kind) {
    message.textContent = text || "";
    message.setAttribute("data-kind", kind || "info");
  }

  // Whether the agent was working in this page when the current action began: disabling the
  // button they pressed sends the browser's focus to the body.
  let focusWasInside = false;

  function focusIsInside() {
    return root.contains(doc.activeElement) && doc.activeElement !== root;
  }

  /**
   * Replace the panel's content. Focus moves to `focus` only when it was inside the page (the
   * agent's own click or key): a page that took the focus on load would interrupt their typing.
   */
  function show(state, nodes, focus) {
    const moveFocus = focusWasInside || focusIsInside();
    focusWasInside = false;
    root.setAttribute("data-state", state);
    panel.replaceChildren(...nodes);
    if (moveFocus && focus) focus.focus();
  }

  function busy(text) {
    focusWasInside = focusWasInside || focusIsInside();
    say(text);
    for (const control of panel.querySelectorAll("button")) control.disabled = true;
    root.setAttribute("data-busy", "true"); // not aria-busy: it would hold back the live region's announcements
  }

  function idle() {
    root.removeAttribute("data-busy");
  }

  // ---- The API ----

  function retryAfterSeconds(response) {
    const value = response.headers.get("Retry-After");
    if (!value) return null;
    const seconds = /^\s*\d+\s*$/.test(value) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
    return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : null;
  }

  /** A failed request: thrown by `api`, read by `messageFor`. */
  function failure(status, code, extra) {
    return Object.assign({ failed: true, status, code, requestId: null, details: null, retryAfter: null }, extra);
  }

  /** One request; resolves to { data, replayed } or throws a failure. Credentials go in headers. */
  async function api(method, path, options) {
    const settings = options || {};
    const url = new URL(config.apiBase + path);
    for (const [name, value] of Object.entries(settings.query || {})) url.searchParams.set(name, value);
    const headers = { "X-App-Id": config.appId, "X-Widget-Key": config.widgetKey };
    if (settings.body !== undefined) headers["Content-Type"] = "application/json";
    if (settings.idempotencyKey) headers["Idempotency-Key"] = settings.idempotencyKey;
    const controller = new AbortController();
    const timer = global.setTimeout(() => controller.abort(), TIMEOUT_MS);
    let response;
    let payload = null;
    try {
      response = await global.fetch(url.href, {
        method,
        mode: "cors",
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
        headers,
        body: settings.body === undefined ? undefined : JSON.stringify(settings.body),
        signal: controller.signal,
      });
      payload = await response.json().catch(() => null); // a gateway's own answer need not be JSON
    } catch (error) {
      // A refused preflight looks the same to a page as an unreachable server.
      throw failure(0, error && error.name === "AbortError" ? "TIMEOUT" : "NETWORK_ERROR");
    } finally {
      global.clearTimeout(timer);
    }
    if (response.ok) {
      if (payload && payload.ok === true && payload.data && typeof payload.data === "object") {
        return { data: payload.data, replayed: response.headers.get("Idempotent-Replayed") === "true" };
      }
      throw failure(response.status, "UNEXPECTED_ANSWER");
    }
    const error = (payload && payload.error) || {};
    throw failure(response.status, error.code || null, {
      requestId: error.requestId || response.headers.get("X-Request-Id"),
      details: error.details || null,
      retryAfter: retryAfterSeconds(response),
    });
  }

  function when(seconds) {
    if (!seconds) return t("inAFewSeconds");
    return seconds === 1 ? t("inOneSecond") : t("inSeconds", { n: seconds });
  }

  function detailsText(details) {
    if (!Array.isArray(details) || details.length === 0) return "";
    const parts = details.map(
      (d) => (d && d.field ? d.field + ": " : "") + (d && d.message ? d.message : "not valid"),
    );
    return " (" + parts.join("; ") + ")";
  }

  /** What the agent reads when a request failed: by error code first, then by HTTP status. */
  function messageFor(problem) {
    const { status, code, retryAfter } = problem;
    switch (code) {
      case "NETWORK_ERROR":
      case "TIMEOUT":
      case "UNAUTHORIZED":
      case "APP_DISABLED":
      case "PRESET_NOT_FOUND":
      case "IDEMPOTENCY_KEY_REUSED":
      case "CALL_NOT_FOUND":
      case "CALL_EXPIRED":
      case "INVALID_CURSOR":
      case "INTERNAL_ERROR":
      case "UNEXPECTED_ANSWER":
      case "NEEDS_HTTPS":
        return t("error_" + code);
      case "ORIGIN_NOT_ALLOWED":
        return t("error_ORIGIN_NOT_ALLOWED", { origin: global.location.origin });
      case "VALIDATION_ERROR":
        return t("error_VALIDATION_ERROR", { details: detailsText(problem.details) });
      case "IDEMPOTENCY_KEY_IN_USE":
      case "SERVICE_UNAVAILABLE":
      case "TOO_MANY_REQUESTS":
        return t("error_" + code, { when: when(retryAfter) });
      case "INVALID_JSON":
      case "INVALID_BODY":
      case "PAYLOAD_TOO_LARGE":
        return t("error_BAD_REQUEST");
      case "NOT_FOUND":
      case "METHOD_NOT_ALLOWED":
        return t("error_WRONG_ADDRESS");
      default:
        break;
    }
    // Answers without the API's envelope: API Gateway's own, or a proxy's.
    if (status === 429) return t("error_TOO_MANY_REQUESTS", { when: when(retryAfter) });
    if (status === 401) return t("error_UNAUTHORIZED");
    if (status === 503) return t("error_SERVICE_UNAVAILABLE", { when: when(retryAfter) });
    if (status === 404 || status === 405) return t("error_WRONG_ADDRESS");
    if (status === 502 || status === 504) return t("error_GATEWAY");
    if (status >= 500) return t("error_INTERNAL_ERROR");
    return t("error_HTTP", { status });
  }

  function sayFailure(problem) {
    const text = messageFor(problem);
    root.setAttribute("data-error-code", problem.code || "HTTP_" + problem.status);
    say(problem.requestId ? text + " " + t("reference", { id: problem.requestId }) : text, "error");
  }

  function sleep(seconds) {
    return new Promise((resolve) => global.setTimeout(resolve, seconds * 1000));
  }

  // ---- Finding, starting and ending the conversation's call ----

  /** The conversation's newest call in status created, or null. Follows nextCursor: a filtered
   * page may hold no call while later pages do; only a missing nextCursor means the end. */
  async function findLiveCall() {
    let cursor = null;
    for (let page = 0; page < MAX_LOOKUP_PAGES; page += 1) {
      const query = { conversationId: config.conversationId, status: "created", limit: "1" };
      if (cursor) query.cursor = cursor;
      const { data } = await api("GET", CALLS_PATH, { query });
      if (Array.isArray(data.calls) && data.calls.length > 0) return data.calls[0];
      cursor = data.nextCursor;
      if (!cursor) return null;
    }
    return null;
  }

  /** The conversation's newest call whatever its status (unfiltered, so one page tells), or null. */
  async function newestCall() {
    const query = { conversationId: config.conversationId, limit: "1" };
    const { data } = await api("GET", CALLS_PATH, { query });
    return Array.isArray(data.calls) && data.calls.length > 0 ? data.calls[0] : null;
  }

  async function readCall(callId) {
    try {
      return (await api("GET", CALLS_PATH + "/" + encodeURIComponent(callId))).data;
    } catch (problem) {
      if (problem.code === "CALL_NOT_FOUND") return null;
      throw problem;
    }
  }

  async function sha256Hex(text) {
    const subtle = global.crypto && global.crypto.subtle; // only in secure contexts (https, localhost)
    if (!subtle) throw failure(0, "NEEDS_HTTPS");
    const digest = await subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /**
   * The Idempotency-Key of "start this conversation's next call": the conversation, and the call
   * it follows (its newest call, which has ended or expired; "none" for the first). A newest call
   * that is live is shown instead: following it would make a second live call. Every page
   * of the conversation that starts at the same moment sees the same newest call, so all of them
   * send one key and the API makes one call. Once that call has ended, it is the newest call, so
   * the next start sends a new key and makes a new call. No key is kept in the browser: a
   * reload, another tab or another agent derives the same one from the API's own data.
   */
  async function idempotencyKeyFor(previousCallId) {
    const after = ":after:" + (previousCallId ? encodeURIComponent(previousCallId) : "none");
    const plain = "genesys-" + encodeURIComponent(config.conversationId) + after;
    if (plain.length <= IDEMPOTENCY_KEY_MAX_LENGTH) return plain;
    return "genesys-sha256-" + (await sha256Hex(config.conversationId)) + after;
  }

  function createBody() {
    return { genesys: { ...config.genesys } };
  }

  /** POST with the key; "still in progress" (another page's request) waits and asks again. */
  async function createOnce(idempotencyKey) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await api("POST", CALLS_PATH, { body: createBody(), idempotencyKey });
      } catch (problem) {
        if (problem.code !== "IDEMPOTENCY_KEY_IN_USE" || attempt >= MAX_IN_USE_RETRIES) throw problem;
        await sleep(problem.retryAfter || 1);
      }
    }
  }

  async function startCall() {
    busy(t("starting"));
    root.removeAttribute("data-error-code");
    try {
      // Another page may have started it since this one loaded: show that one.
      const live = await findLiveCall();
      if (live) return showCall(live, t("found"));
      const newest = await newestCall();
      // A live newest call was started by another page after the look above (two panels whose
      // clicks fall within a second): it is the call to show, never one to follow with another.
      if (newest && newest.status === "created") return showCall(newest, t("found"));
      let previousCallId = newest ? newest.callId : null;
      for (let round = 0; round < MAX_START_ROUNDS; round += 1) {
        const created = await createOnce(await idempotencyKeyFor(previousCallId));
        const call = created.data;
        if (!call.callId) throw failure(201, "UNEXPECTED_ANSWER");
        keepHostLink(call.callId, call.hostJoinUrl || call.agentJoinUrl);
        if (!created.replayed) return showCall({ ...call, status: "created" }, t("started"));
        // A replay: the call this key made first. It may have ended since (or be gone).
        const current = await readCall(call.callId);
        if (current && current.status === "created") return showCall(current, t("started"));
        forgetHostLink(call.callId);
        previousCallId = call.callId;
      }
      throw failure(0, "INTERNAL_ERROR");
    } catch (problem) {
      if (!problem || !problem.failed) throw problem;
      if (problem.code === "IDEMPOTENCY_KEY_REUSED") {
        // Another page sent this key with other details (another language tag, say): its call is the one.
        const live = await findLiveCall().catch(() => null);
        if (live) return showCall(live, t("found"));
      }
      return showNoCall(problem);
    } finally {
      idle();
    }
  }

  async function endCall(call) {
    busy(t("ending"));
    root.removeAttribute("data-error-code");
    try {
      const ended = (await api("POST", CALLS_PATH + "/" + encodeURIComponent(call.callId) + "/end")).data;
      forgetHostLink(call.callId);
      return showCall(ended, t("ended"));
    } catch (problem) {
      if (!problem || !problem.failed) throw problem;
      if (problem.code === "CALL_EXPIRED") return showCall({ ...call, status: "expired" }, messageFor(problem));
      if (problem.code === "CALL_NOT_FOUND") return showNoCall(problem);
      showCall(call);
      return sayFailure(problem);
    } finally {
      idle();
    }
  }

  async function refreshCall(call) {
    busy(t("refreshing"));
    root.removeAttribute("data-error-code");
    try {
      const current = await readCall(call.callId);
      if (!current) return showNoCall(failure(404, "CALL_NOT_FOUND"));
      return showCall(current, t("refreshed"));
    } catch (problem) {
      if (!problem || !problem.failed) throw problem;
      showCall(call);
      return sayFailure(problem);
    } finally {
      idle();
    }
  }

  async function lookUp() {
    busy(t("loading"));
    root.setAttribute("data-state", "loading");
    root.removeAttribute("data-error-code");
    try {
      const live = await findLiveCall();
      return live ? showCall(live, "") : showNoCall();
    } catch (problem) {
      if (!problem || !problem.failed) throw problem;
      const retry = button(t("retry"), "vcg-primary", lookUp);
      show("error", [retry], retry);
      return sayFailure(problem);
    } finally {
      idle();
    }
  }

  // ---- The host link: in the call view (widget-key apps), or kept from the create answer ----

  function storageKey(callId) {
    return HOST_LINK_STORAGE_PREFIX + config.appId + "." + callId;
  }

  function session() {
    try {
      return global.sessionStorage; // throws where the browser blocks storage in frames
    } catch (error) {
      return null;
    }
  }

  /** An http(s) link from the API, or null: nothing else may become an href. */
  function safeLink(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  // In host-key mode the create answer is the only place the host link ever appears: keep it
  // for this tab's session (sessionStorage ends with the tab), never longer.
  const keptHostLinks = new Map();

  function keepHostLink(callId, link) {
    const safe = safeLink(link);
    if (!safe) return;
    keptHostLinks.set(callId, safe);
    const storage = session();
    try {
      if (storage) storage.setItem(storageKey(callId), safe);
    } catch (error) {
      // Full or blocked: this page still holds it until it is reloaded.
    }
  }

  function forgetHostLink(callId) {
    keptHostLinks.delete(callId);
    const storage = session();
    try {
      if (storage) storage.removeItem(storageKey(callId));
    } catch (error) {
      // Nothing to forget.
    }
  }

  function hostLinkFor(call) {
    const fromView = safeLink(call.hostJoinUrl || call.agentJoinUrl);
    if (fromView) return fromView;
    if (keptHostLinks.has(call.callId)) return keptHostLinks.get(call.callId);
    const storage = session();
    try {
      return storage ? safeLink(storage.getItem(storageKey(call.callId))) : null;
    } catch (error) {
      return null;
    }
  }

  // ---- What the agent sees ----

  function showNoCall(problem) {
    const start = button(t("start"), "vcg-primary", startCall);
    show("none", [element("p", "vcg-note", t("noCall")), start], start);
    if (problem) sayFailure(problem);
    else say("");
  }

  function callFacts(call) {
    const facts = element("p", "vcg-facts");
    const status = element("span", "vcg-status");
    status.append(t("statusLabel") + " ", element("strong", "", t("status_" + call.status) || call.status));
    facts.append(status);
    const moments = [
      ["createdAt", "startedAt"],
      ["agentJoinedAt", "agentJoinedAt"],
      ["guestJoinedAt", "guestJoinedAt"],
      ["endedAt", "endedAt"],
    ];
    for (const [field, text] of moments) {
      const time = call[field] ? timeOf(call[field]) : null;
      if (time) facts.append(" ", element("span", "", t(text, { time })));
    }
    return facts;
  }

  function showCall(call, note) {
    if (call.status !== "created") {
      forgetHostLink(call.callId);
      const again = button(t("startNew"), "vcg-primary", startCall);
      show(call.status === "ended" ? "ended" : "expired", [callFacts(call), again], again);
      say(note || t(call.status === "ended" ? "ended" : "expired"));
      return;
    }
    const nodes = [callFacts(call)];
    let first = null;

    const hostLink = hostLinkFor(call);
    if (hostLink) {
      const join = element("a", "vcg-button vcg-primary", t("joinAsAgent"));
      join.href = hostLink;
      join.target = "_blank";
      join.rel = "noopener noreferrer";
      nodes.push(join);
      first = join;
    } else {
      nodes.push(element("p", "vcg-note vcg-host-link-gone", t("hostLinkGone")));
    }

    const guestLink = safeLink(call.guestJoinUrl || call.joinUrl) || "";
    const guest = element("div", "vcg-guest");
    const label = element("label", "", t("guestLinkLabel"));
    label.htmlFor = "vcg-guest-link";
    const hint = element("span", "vcg-hint", t("guestLinkHint"));
    hint.id = "vcg-guest-hint";
    const field = element("input", "vcg-link");
    field.id = "vcg-guest-link";
    field.type = "text";
    field.readOnly = true;
    field.value = guestLink;
    field.setAttribute("aria-describedby", hint.id);
    field.addEventListener("focus", () => field.select());
    const copy = button(t("copy"), "", () => copyLink(field));
    const row = element("div", "vcg-row");
    row.append(field, copy);
    guest.append(label, hint, row);
    nodes.push(guest);

    const actions = element("div", "vcg-actions");
    const end = button(t("end"), "vcg-danger", () => confirmEnd(call, actions, end));
    const refresh = button(t("refresh"), "", () => refreshCall(call));
    actions.append(end, refresh);
    nodes.push(actions);

    show("call", nodes, first || copy);
    say(note || "");
  }

  /** Ending is for everyone and cannot be undone: ask once, in the page (a frame may not open dialogs). */
  function confirmEnd(call, actions, endButton) {
    const question = element("div", "vcg-confirm");
    question.setAttribute("role", "group");
    const text = element("p", "", t("endConfirm"));
    text.id = "vcg-end-question";
    question.setAttribute("aria-labelledby", text.id);
    const yes = button(t("endYes"), "vcg-danger", () => endCall(call));
    const no = button(t("endCancel"), "", () => {
      question.replaceWith(actions);
      endButton.focus();
    });
    question.append(text, yes, no);
    actions.replaceWith(question);
    yes.focus();
  }

  async function copyLink(field) {
    const link = field.value;
    try {
      // Needs the frame's clipboard-write permission (the integration's Iframe Feature Policy).
      await global.navigator.clipboard.writeText(link);
      say(t("copied"));
      return;
    } catch (error) {
      // Fall back to the selection below.
    }
    field.focus();
    field.select();
    let copied = false;
    try {
      copied = doc.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    say(copied ? t("copied") : t("copyFailed"), copied ? "info" : "error");
  }

  function showSetup() {
    root.setAttribute("data-state", "setup");
    heading.textContent = t("setupTitle");
    const names = config.missing.map((name) => t("missing_" + name)).join(", ");
    const problems = [];
    if (names) problems.push(t("setupMissing", { names }));
    if (!config.apiBase) problems.push(t("setupBadApiBase"));
    const template = element("code", "vcg-template", SETUP_URL_TEMPLATE);
    const templateBlock = element("pre", "vcg-pre");
    templateBlock.append(template);
    panel.replaceChildren(
      element("p", "", t("setupIntro")),
      element("p", "vcg-missing", problems.join(" ")),
      element("p", "", t("setupHow")),
      templateBlock,
      element("p", "", t("setupApiBase")),
      element("p", "", t("setupDocs")),
    );
    say("");
  }

  // Opened outside Genesys Cloud, or set up wrong: explain, and call nothing.
  if (config.missing.length > 0 || !config.apiBase) {
    showSetup();
  } else {
    lookUp();
  }
})(window);
