/*!
 * Video Calls widget v1: a "Start a video call" button for any web page. No dependencies.
 *
 *   <div id="video-call"></div>
 *   <script src="https://API_HOST/widget/v1/video-calls-widget.js" defer
 *           data-app-id="YOUR_APP_ID" data-widget-key="YOUR_WIDGET_KEY"
 *           data-target="#video-call"></script>
 *
 * or from a script of the page: VideoCallsWidget.mount({ target, appId, widgetKey, apiBase, call }).
 * See docs/widget.md for every option.
 *
 * A widget key is public by nature (it lives in the page); the API binds it to the app's
 * allowed origins. Still, the widget keeps it in this closure only: never in the page's text,
 * an event's detail or the console.
 */
(function (global) {
  "use strict";

  const CALLS_PATH = "/api/calls";
  const DEFAULT_TIMEOUT_MS = 20000;
  const DEFAULT_BUTTON_TEXT = "Start a video call";
  // Script-tag data attributes (camelCased by dataset) that become fields of the request body.
  const CALL_FIELDS = ["title", "description", "presetId", "hostName", "guestName"];

  // Captured now: document.currentScript is only set while this file first runs.
  const currentScript = global.document.currentScript;
  const scriptOrigin = currentScript && currentScript.src ? new URL(currentScript.src).origin : null;

  function retryAfterSeconds(response) {
    // Readable only if the API lists Retry-After in Access-Control-Expose-Headers.
    const value = response.headers.get("Retry-After");
    if (!value) return null;
    const seconds = /^\s*\d+\s*$/.test(value) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
    return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : null;
  }

  function when(seconds, otherwise) {
    if (!seconds) return otherwise;
    return "in " + seconds + (seconds === 1 ? " second" : " seconds");
  }

  function detailsText(details) {
    if (!Array.isArray(details)) return "";
    return details
      .map((d) => (d && d.field ? d.field + ": " : "") + (d && d.message ? d.message : "not valid"))
      .join("; ");
  }

  /** What a visitor reads when a call could not be created: by error code first, then by HTTP status. */
  function messageFor(failure) {
    const { status, code, retryAfter } = failure;
    switch (code) {
      case "NETWORK_ERROR":
        return "Couldn't reach the video call service. Please check your internet connection and try again.";
      case "TIMEOUT":
        return "The video call service took too long to answer. Please try again.";
      case "UNAUTHORIZED":
        return (
          "Video calls aren't available here: this site's app ID or widget key was not accepted. " +
          "Please let the site owner know."
        );
      case "APP_DISABLED":
        return "Video calls are switched off for this site at the moment. Please try again later or contact the site owner.";
      case "ORIGIN_NOT_ALLOWED":
        return (
          "Video calls can't be started from this website (" + global.location.origin + "): " +
          "it is not on the app's list of allowed origins. The site owner needs to add it."
        );
      case "PAYLOAD_TOO_LARGE":
        return (
          "The call details are too large to send (the limit is 32 KiB). " +
          "The site owner needs to shorten the title, description or metadata."
        );
      case "VALIDATION_ERROR": {
        const details = detailsText(failure.details);
        return (
          "Some call details were not accepted" + (details ? " (" + details + ")" : "") + ". " +
          "The site owner needs to correct the widget's settings."
        );
      }
      case "PRESET_NOT_FOUND":
        return (
          "The call settings (preset) this button asks for don't exist. " +
          "The site owner needs to correct the widget's preset ID."
        );
      case "IDEMPOTENCY_KEY_IN_USE":
        return "Your previous request is still being processed. Please try again " + when(retryAfter, "in a few seconds") + ".";
      case "SERVICE_UNAVAILABLE":
        return "The video call service is busy right now. Please try again " + when(retryAfter, "in a few seconds") + ".";
      case "INTERNAL_ERROR":
        return (
          "Something went wrong on our side while creating your call. " +
          "Please try again; if it keeps happening, contact the site owner."
        );
      case "INVALID_JSON":
      case "INVALID_BODY":
        return "The video call service could not read the request. The site owner needs to check the widget's settings.";
      case "UNEXPECTED_ANSWER":
        return (
          "The video call service answered in a way this button doesn't understand. " +
          "Please try again later; if it keeps happening, contact the site owner."
        );
      default:
        break;
    }
    // Answers without the API's envelope: API Gateway's own (throttling, timeouts) or a proxy's.
    if (status === 429) {
      return "Too many calls are being started right now. Please try again " + when(retryAfter, "in a moment") + ".";
    }
    if (status === 401) return messageFor({ code: "UNAUTHORIZED" });
    if (status === 413) return messageFor({ code: "PAYLOAD_TOO_LARGE" });
    if (status === 503) return messageFor({ code: "SERVICE_UNAVAILABLE", retryAfter });
    if (status === 404 || status === 405) {
      return (
        "The video call service was not found at the configured address. " +
        "The site owner needs to check the widget's API address."
      );
    }
    if (status === 502 || status === 504) {
      return "The video call service didn't answer in time. Please try again in a moment.";
    }
    if (status >= 500) return messageFor({ code: "INTERNAL_ERROR" });
    return "The call could not be created (HTTP " + status + "). Please try again later.";
  }

  function newIdempotencyKey() {
    const crypto = global.crypto;
    if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16)); // also on plain-http pages, unlike randomUUID
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** An http(s) link, or null: nothing else may become an href or be opened (javascript:, data:, ...). */
  function safeLink(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function apiBaseUrl(configured) {
    const url = new URL(configured || scriptOrigin || global.location.origin, global.location.href);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError("not an http(s) URL");
    return url.href.replace(/\/+$/, "");
  }

  function element(tag, className, text) {
    const node = global.document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function containerFor(target) {
    const doc = global.document;
    const found = typeof target === "string" ? doc.querySelector(target) : target;
    if (found) return found;
    const container = element("div");
    if (currentScript && currentScript.parentNode && currentScript.parentNode !== doc.head) {
      currentScript.parentNode.insertBefore(container, currentScript.nextSibling);
    } else {
      doc.body.appendChild(container);
    }
    return container;
  }

  /**
   * Render the button and return { element, destroy }.
   *
   * options: appId and widgetKey (required); target (element or CSS selector; default: right
   * after the script tag, else the end of <body>); apiBase (default: the origin this script was
   * loaded from); call (request body: title, presetId, guestName, metadata, ...); buttonText;
   * openInNewTab (default true); timeoutMs (default 20000); onCreated(call) and onError(failure).
   */
  function mount(options) {
    const settings = options || {};
    const root = element("div", "vcw");
    const button = element("button", "vcw-button", settings.buttonText || DEFAULT_BUTTON_TEXT);
    button.type = "button";
    const status = element("p", "vcw-status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    root.append(button, status);
    root.setAttribute("data-state", "idle");
    containerFor(settings.target).appendChild(root);

    function show(state, text) {
      root.setAttribute("data-state", state);
      status.textContent = text;
    }

    function emit(name, detail, callback) {
      root.dispatchEvent(new CustomEvent(name, { bubbles: true, detail }));
      if (typeof callback === "function") callback(detail);
    }

    function destroy() {
      root.remove();
    }

    const { appId, widgetKey } = settings;
    let apiBase = null;
    let problem = null;
    if (!appId) problem = "the app ID (data-app-id) is missing";
    else if (!widgetKey) problem = "the widget key (data-widget-key) is missing";
    else {
      try {
        apiBase = apiBaseUrl(settings.apiBase);
      } catch (error) {
        problem = "the API address (data-api-base) is not a valid http(s) URL";
      }
    }
    if (problem) {
      button.disabled = true;
      show("error", "This video call button isn't set up correctly: " + problem + ".");
      global.console.error("Video Calls widget: " + problem + ".");
      return { element: root, destroy };
    }

    const body = JSON.stringify(settings.call || {});
    const timeoutMs = settings.timeoutMs || DEFAULT_TIMEOUT_MS;
    const openInNewTab = settings.openInNewTab !== false;
    // Kept while an attempt may have reached the server unseen (network failure, timeout, 5xx,
    // 409, 429), so that a retry replays the call already created instead of making a second one.
    let idempotencyKey = null;

    function created(data, guestJoinUrl) {
      idempotencyKey = null;
      // The host link carries the widget key: the widget never shows, opens or forwards it.
      const call = { callId: data.callId, guestJoinUrl };
      show(
        "created",
        openInNewTab
          ? "Your video call is ready and opens in a new tab. If it didn't open, use this link: "
          : "Your video call is ready: ",
      );
      const link = element("a", "vcw-link", "Join the video call");
      link.href = call.guestJoinUrl;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      status.appendChild(link);
      if (openInNewTab) global.open(call.guestJoinUrl, "_blank", "noopener,noreferrer");
      emit("videocalls:created", call, settings.onCreated);
    }

    function failed(failure) {
      const definite = failure.status >= 400 && failure.status < 500 && ![409, 429].includes(failure.status);
      if (definite) idempotencyKey = null; // nothing was created: the next click is a new request
      failure.message = messageFor(failure);
      root.setAttribute("data-error-code", failure.code || "HTTP_" + failure.status);
      show("error", failure.requestId ? failure.message + " (Reference: " + failure.requestId + ")" : failure.message);
      emit("videocalls:error", failure, settings.onError);
    }

    async function createCall() {
      idempotencyKey = idempotencyKey || newIdempotencyKey();
      const controller = new AbortController();
      const timer = global.setTimeout(() => controller.abort(), timeoutMs);
      let response;
      let payload = null;
      try {
        // Credentials in headers, not the query string, so that the key stays out of URLs and
        // access logs. Custom headers make this a non-simple request: the browser preflights it.
        response = await global.fetch(apiBase + CALLS_PATH, {
          method: "POST",
          mode: "cors",
          credentials: "omit",
          cache: "no-store",
          headers: {
            "Content-Type": "application/json",
            "X-App-Id": appId,
            "X-Widget-Key": widgetKey,
            "Idempotency-Key": idempotencyKey,
          },
          body,
          signal: controller.signal,
        });
        payload = await response.json().catch(() => null); // a gateway's own answer need not be JSON
      } catch (error) {
        // A refused preflight or a CORS failure looks the same to a page as an unreachable server.
        const code = error && error.name === "AbortError" ? "TIMEOUT" : "NETWORK_ERROR";
        failed({ status: 0, code, requestId: null, details: null, retryAfter: null });
        return;
      } finally {
        global.clearTimeout(timer);
      }
      const data = payload && payload.ok ? payload.data : null;
      const link = data ? data.guestJoinUrl || data.joinUrl : null;
      if (response.ok && data && link) {
        // A forged or broken answer's link (javascript:, data:, ...) would run in this site's page.
        const guestJoinUrl = safeLink(link);
        if (guestJoinUrl) {
          created(data, guestJoinUrl);
        } else {
          idempotencyKey = null; // the API answered: a retry is a new request, not this answer again
          failed({
            status: response.status,
            code: "UNEXPECTED_ANSWER",
            requestId: response.headers.get("X-Request-Id"),
            details: null,
            retryAfter: null,
          });
        }
        return;
      }
      const error = (payload && payload.error) || {};
      failed({
        status: response.status,
        code: error.code || null,
        requestId: error.requestId || response.headers.get("X-Request-Id"),
        details: error.details || null,
        retryAfter: retryAfterSeconds(response),
      });
    }

    button.addEventListener("click", async () => {
      button.disabled = true;
      root.removeAttribute("data-error-code");
      show("loading", "Creating your video call…");
      try {
        await createCall();
      } finally {
        button.disabled = false;
      }
    });
    return { element: root, destroy };
  }

  function optionsFromScript(script) {
    const data = script.dataset;
    const call = {};
    for (const field of CALL_FIELDS) {
      if (data[field]) call[field] = data[field];
    }
    return {
      appId: data.appId,
      widgetKey: data.widgetKey,
      apiBase: data.apiBase,
      target: data.target,
      buttonText: data.buttonText,
      openInNewTab: data.openInNewTab !== "false",
      call,
    };
  }

  global.VideoCallsWidget = Object.freeze({ version: "1", mount });

  // <script data-app-id=...>: mount when the page, and so the target, exists.
  if (currentScript && "appId" in currentScript.dataset) {
    const scriptOptions = optionsFromScript(currentScript);
    if (global.document.readyState === "loading") {
      global.document.addEventListener("DOMContentLoaded", () => mount(scriptOptions), { once: true });
    } else {
      mount(scriptOptions);
    }
  }
})(window);
