// Node 18 compatibility for server.mjs, imported before anything else there.
//
// pglite-socket dispatches `new CustomEvent(...)` (listening, data, close, error), a global
// only from Node 19 on; Node 18 (Debian 12, Ubuntu 24.04) has EventTarget and Event but no
// CustomEvent, and the server died with "ReferenceError: CustomEvent is not defined" once it
// listened. This module defines the WHATWG CustomEvent on Node 18 and does nothing where
// the runtime has its own. It is a separate module because ES imports are hoisted: code at
// the top of server.mjs would run only after pglite-socket was loaded.
if (typeof globalThis.CustomEvent !== 'function') {
  class CustomEvent extends Event {
    #detail;

    constructor(type, eventInitDict = {}) {
      super(type, eventInitDict);
      this.#detail = eventInitDict?.detail ?? null;
    }

    get detail() {
      return this.#detail;
    }
  }
  Object.defineProperty(globalThis, 'CustomEvent', {
    value: CustomEvent,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
