// A steady tick for the recording's canvas (composer.js), from a dedicated worker: a background
// tab stops requestAnimationFrame and slows the page's own timers to about once a second, but
// not a worker's. Post a period in milliseconds to start ticking, 0 to stop.

let timer = null;

self.addEventListener("message", (event) => {
  clearInterval(timer);
  timer = null;
  const period = Number(event.data);
  if (period > 0) timer = setInterval(() => self.postMessage("tick"), period);
});
