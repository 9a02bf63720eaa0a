/* Session and preference storage with a memory fallback (storage may be blocked). */

/** A JSON store on `window[kind]` ("sessionStorage" or "localStorage"); it probes the storage the
 * first time it is used, and keeps values in memory when the storage is blocked. */
function makeStore(kind) {
  const memory = new Map();
  let backend;   // undefined until probed; null when blocked
  const storage = () => {
    if (backend !== undefined) return backend;
    try {
      backend = window[kind];
      const probe = "parley.console.probe";
      backend.setItem(probe, "1");
      backend.removeItem(probe);
    } catch (e) {
      backend = null;
    }
    return backend;
  };
  return {
    get(key) {
      try {
        const raw = storage() ? backend.getItem(key) : memory.get(key);
        return raw ? JSON.parse(raw) : null;
      } catch (e) {
        return null;
      }
    },
    set(key, value) {
      const raw = JSON.stringify(value);
      try {
        if (storage()) backend.setItem(key, raw); else memory.set(key, raw);
      } catch (e) {
        memory.set(key, raw);
      }
    },
    remove(key) {
      try { if (storage()) backend.removeItem(key); } catch (e) { /* ignore */ }
      memory.delete(key);
    },
  };
}

export const sessionStore = makeStore("sessionStorage");
export const prefsStore = makeStore("localStorage");
