/* soraweb: the little the pages need beyond htmx. Every page works without it.
 *
 * - Picture slots: a drop zone per slot (click, drop, paste) whose thumbnail is the frame the
 *   provider will receive (the video's aspect ratio, cropped or with bars), from a local object
 *   URL; nothing is uploaded until "Generate". Slots a rule forbids are disabled with the reason.
 * - Focus after an htmx swap: an element marked data-focus-after-swap gets focus, so keyboard
 *   and screen-reader users land on the result of what they did.
 * - A card added by an action (a retry) is scrolled into view and gets focus.
 * - "Load more": focus moves to the first new video instead of being lost with the button.
 * - Live pages: a card fetched because the live stream named it says so (?live=1); while the
 *   stream is heard from, a card's own poll runs only every 30 s, as a safety net; a tab in the
 *   background closes its stream and reopens it when shown.
 */
(function () {
  "use strict";

  function fill(template, values) {
    return (template || "").replace(/%\((\w+)\)s/g, function (_, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  function currentFrame() {
    var el = document.querySelector("#estimate [data-frame-w]");
    if (!el) return null;
    return { w: parseInt(el.getAttribute("data-frame-w"), 10), h: parseInt(el.getAttribute("data-frame-h"), 10) };
  }

  function currentFit() {
    var checked = document.querySelector("#create-form input[name=image_fit]:checked");
    return checked ? checked.value : "crop";
  }

  // --- Picture slots: one drop zone per slot, with the frame that will be sent ---------------
  //
  // Each slot's file input stays a plain input (the form works without this script); here it
  // becomes a zone to click, drop a file on, or paste into, showing a thumbnail cut exactly as
  // soraweb/videos/images.py will cut it: the video's aspect ratio, cropped (object-fit: cover,
  // centred, as ImageOps.fit) or with black bars (contain on black, as ImageOps.pad).
  var PREVIEW_W = 220, PREVIEW_H = 165;
  var objectUrls = {};
  var shownKey = {};

  function slotsBox() { return document.getElementById("picture-slots"); }

  function slotRules() {
    var box = slotsBox();
    try { return JSON.parse((box && box.getAttribute("data-slot-rules")) || "[]"); } catch (e) { return []; }
  }

  function serverStates() {
    var el = document.querySelector("#estimate [data-slot-states]");
    try { return JSON.parse((el && el.getAttribute("data-slot-states")) || "{}"); } catch (e) { return {}; }
  }

  function slotFilled(slot) {
    var input = slot.querySelector("input.slot-input");
    var kept = slot.querySelector("input[data-kept]");
    return !!((input && input.files && input.files.length) || (kept && kept.checked));
  }

  function frameSize(w, h) {
    var width = Math.min(PREVIEW_W, PREVIEW_H * w / h);
    return { w: Math.round(width), h: Math.round(width * h / w) };
  }

  function renderSlot(slot) {
    var box = slotsBox();
    var input = slot.querySelector("input.slot-input");
    var preview = slot.querySelector(".slot-preview");
    if (!box || !input || !preview) return;
    var file = input.files && input.files[0];
    var frame = currentFrame();
    var fit = currentFit();
    var key = (file ? file.name + ":" + file.size + ":" + file.lastModified : "") + "/" + (frame ? frame.w + "x" + frame.h : "") + "/" + fit;
    var name = input.name;
    if (shownKey[name] === key) return;
    shownKey[name] = key;
    if (objectUrls[name]) { URL.revokeObjectURL(objectUrls[name]); delete objectUrls[name]; }
    preview.textContent = "";
    slot.classList.toggle("is-filled", !!file);
    if (!file) { preview.hidden = true; return; }
    var frameBox = document.createElement("div");
    frameBox.className = "preview-frame fit-" + fit;
    function sizeTo(w, h) {
      var size = frameSize(w, h);
      frameBox.style.width = size.w + "px";
      frameBox.style.height = size.h + "px";
      frameBox.style.aspectRatio = w + " / " + h;
    }
    if (frame && fit !== "none") sizeTo(frame.w, frame.h); else sizeTo(4, 3);
    var img = document.createElement("img");
    img.alt = box.getAttribute("data-text-alt");
    var url = URL.createObjectURL(file);
    objectUrls[name] = url;
    var text = document.createElement("div");
    text.className = "preview-text";
    var fileName = document.createElement("p");
    fileName.className = "muted preview-name";
    fileName.textContent = file.name;
    text.appendChild(fileName);
    var maxBytes = parseInt(input.getAttribute("data-max-bytes") || "0", 10);
    if (maxBytes && file.size > maxBytes) {
      var warn = document.createElement("p");
      warn.className = "preview-warning";
      warn.textContent = fill(box.getAttribute("data-text-too-big"), { limit: slot.getAttribute("data-limit") });
      text.appendChild(warn);
    }
    var size = document.createElement("p");
    var what = document.createElement("p");
    what.className = "preview-what";
    text.appendChild(size);
    text.appendChild(what);
    img.addEventListener("load", function () {
      size.textContent = fill(box.getAttribute("data-text-original"), { w: img.naturalWidth, h: img.naturalHeight });
      if (!frame || fit === "none") {
        what.textContent = box.getAttribute("data-text-none");
        sizeTo(img.naturalWidth, img.naturalHeight);
      } else if (img.naturalWidth === frame.w && img.naturalHeight === frame.h) {
        what.textContent = box.getAttribute("data-text-exact");
      } else {
        what.textContent = fill(box.getAttribute("data-text-" + fit), frame);
      }
    });
    img.src = url;
    frameBox.appendChild(img);
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn slot-remove";
    remove.textContent = box.getAttribute("data-text-remove");
    remove.addEventListener("click", function () {
      input.value = "";
      input.dispatchEvent(new Event("change", { bubbles: true }));
      input.focus();
    });
    text.appendChild(remove);
    preview.appendChild(frameBox);
    preview.appendChild(text);
    preview.hidden = false;
  }

  // A slot the catalogue forbids right now is disabled with the reason: the settings' rules
  // come from the server with the price (a last frame needs Pro mode), the rules between slots
  // are applied here as they are filled (a last frame needs a first frame).
  function syncSlots() {
    var box = slotsBox();
    if (!box) return;
    var slots = Array.prototype.slice.call(box.querySelectorAll(".slot[data-slot]"));
    var filled = {};
    slots.forEach(function (slot) { if (slotFilled(slot)) filled[slot.getAttribute("data-slot")] = true; });
    var states = serverStates();
    var rules = slotRules();
    function holds(c, trial) { return c[1] === "set" ? !!trial[c[0]] : !trial[c[0]]; }
    slots.forEach(function (slot) {
      var param = slot.getAttribute("data-slot");
      var input = slot.querySelector("input.slot-input");
      var reasonEl = slot.querySelector("[data-slot-reason]");
      var reason = states[param] || "";
      if (!reason && !filled[param]) {
        var trial = Object.assign({}, filled);
        trial[param] = true;
        rules.forEach(function (rule) {
          if (reason) return;
          var involved = rule.when.concat(rule.then).some(function (c) { return c[0] === param; });
          if (involved && rule.when.every(function (c) { return holds(c, trial); }) && !rule.then.every(function (c) { return holds(c, trial); })) {
            reason = rule.message;
          }
        });
      }
      var own = input && input.files && input.files.length;
      // A slot already holding a picture stays usable (the person can remove it); the reason shows.
      if (input) input.disabled = !!reason && !own;
      slot.classList.toggle("is-blocked", !!reason && !own);
      if (reasonEl) { reasonEl.textContent = reason; reasonEl.hidden = !reason; }
    });
    // A slot taking several pictures (reference 1..N) shows its next place once the one before
    // it is filled, so nine empty boxes do not bury the form.
    var previousFilled = {};
    slots.forEach(function (slot) {
      var param = slot.getAttribute("data-slot");
      var index = parseInt(slot.getAttribute("data-slot-index") || "1", 10);
      var filledHere = slotFilled(slot);
      slot.hidden = index > 1 && !filledHere && !previousFilled[param];
      previousFilled[param] = filledHere;
    });
  }

  function renderPreview() {
    var box = slotsBox();
    if (!box) return;
    box.querySelectorAll(".slot[data-slot]").forEach(renderSlot);
    syncSlots();
  }

  function putFile(input, file) {
    if (!input || input.disabled || !file || typeof DataTransfer !== "function") return false;
    var box = slotsBox();
    var accept = (input.getAttribute("accept") || "").split(",");
    if (accept[0] && accept.indexOf(file.type) < 0) {
      var reasonEl = input.closest(".slot").querySelector("[data-slot-reason]");
      if (reasonEl && box) { reasonEl.textContent = box.getAttribute("data-text-not-picture"); reasonEl.hidden = false; }
      return false;
    }
    var dt = new DataTransfer();
    dt.items.add(file);
    input.files = dt.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function enhanceSlots() {
    var box = slotsBox();
    if (!box) return;
    box.querySelectorAll("[data-drop-zone]:not([data-enhanced])").forEach(function (zone) {
      zone.setAttribute("data-enhanced", "");
      zone.classList.add("is-enhanced");
      var prompt = zone.querySelector(".drop-prompt");
      if (prompt) {
        // A phone or tablet has no keyboard paste or dragging: say what a tap does there.
        if (window.matchMedia("(pointer: coarse)").matches && prompt.dataset.touch) {
          prompt.textContent = prompt.dataset.touch;
        } else if (/Mac|iP(hone|ad|od)/.test(navigator.platform || "")) {
          prompt.textContent = prompt.textContent.replace("Ctrl+V", "\u2318V");
        }
        prompt.hidden = false;
      }
      var input = zone.querySelector("input.slot-input");
      zone.addEventListener("dragover", function (event) {
        if (input.disabled) return;
        event.preventDefault();
        zone.classList.add("is-over");
      });
      zone.addEventListener("dragleave", function () { zone.classList.remove("is-over"); });
      zone.addEventListener("drop", function (event) {
        zone.classList.remove("is-over");
        if (input.disabled) return;
        event.preventDefault();
        var files = event.dataTransfer && event.dataTransfer.files;
        if (files && files.length) putFile(input, files[0]);
      });
    });
  }

  // Paste: into the slot that has keyboard focus, else the first free one.
  document.addEventListener("paste", function (event) {
    var box = slotsBox();
    var items = event.clipboardData && event.clipboardData.files;
    if (!box || !items || !items.length) return;
    var file = items[0];
    var active = document.activeElement;
    var slot = active && active.closest ? active.closest("#picture-slots .slot") : null;
    if (!slot) {
      slot = Array.prototype.slice.call(box.querySelectorAll(".slot")).filter(function (s) {
        var i = s.querySelector("input.slot-input");
        return !s.hidden && i && !i.disabled && !(i.files && i.files.length);
      })[0];
    }
    if (slot && putFile(slot.querySelector("input.slot-input"), file)) event.preventDefault();
  });

  // Changing the model redraws the slots: a picture already chosen stays in a slot of the same name.
  var carried = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || elt.id !== "id_video_model") return;
    carried = {};
    document.querySelectorAll("#picture-slots input.slot-input").forEach(function (input) {
      if (input.files && input.files.length) carried[input.name] = input.files[0];
    });
  });
  function restoreCarried() {
    if (!carried) return;
    var files = carried;
    carried = null;
    Object.keys(files).forEach(function (name) {
      var input = document.querySelector('#picture-slots input.slot-input[name="' + name + '"]');
      if (input && !input.disabled) putFile(input, files[name]);
    });
  }

  function syncPictureInput() {
    enhanceSlots();
    restoreCarried();
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if ((target.classList && target.classList.contains("slot-input")) || target.name === "image_fit" || target.hasAttribute("data-kept")) renderPreview();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    syncPictureInput();
    enhanceTiles(document);
    var root = event.detail && event.detail.elt;
    var id = root && root.id;
    if (id === "model-options" || id === "estimate" || id === "fit-options" || id === "picture-slots" || id === "create-form") renderPreview();
    focusWithin(root);
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    focusWithin(target);
    revealInserted(target);
  });

  // A card an action added (a retry) may land far from where the person is: bring it into
  // view, and move keyboard focus to it, since the button they pressed stays on the old card.
  function revealInserted(root) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll("[data-scroll-into-view]").forEach(function (el) {
      el.removeAttribute("data-scroll-into-view");
      var link = el.querySelector(".job-prompt a");
      if (link) link.focus({ preventScroll: true });
      el.scrollIntoView({ block: "nearest", behavior: "auto" });
    });
  }

  function focusWithin(root) {
    if (!root || !root.querySelector) return;
    var target = root.matches("[data-focus-after-swap]") ? root : root.querySelector("[data-focus-after-swap]");
    if (target) {
      target.removeAttribute("data-focus-after-swap");
      target.focus();
    }
  }

  // "Load more" replaces itself with the next videos; keep keyboard focus in the list.
  var loadMorePage = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.closest && elt.closest("#load-more")) {
      loadMorePage = elt.closest("#load-more").getAttribute("data-next-page");
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!loadMorePage) return;
    var first = document.querySelector('.tile[data-page="' + loadMorePage + '"] .tile-prompt a');
    loadMorePage = null;
    if (first) first.focus();
  });

  // Gallery tiles: a clean poster with one big play button; the native controls (which work
  // without JavaScript) come back once the video plays.
  function enhanceTiles(root) {
    (root || document).querySelectorAll("video.tile-video:not([data-enhanced])").forEach(function (video) {
      var button = video.parentNode.querySelector(".tile-play");
      if (!button) return;
      video.setAttribute("data-enhanced", "");
      video.removeAttribute("controls");
      video.setAttribute("tabindex", "-1");
      button.hidden = false;
    });
  }

  function playTile(video) {
    var button = video.parentNode.querySelector(".tile-play");
    video.setAttribute("controls", "");
    video.removeAttribute("tabindex");
    if (button) button.hidden = true;
    var started = video.play();
    if (started && started.catch) started.catch(function () {});
    video.focus();
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    var button = target.closest(".tile-play");
    if (button) {
      playTile(button.parentNode.querySelector("video.tile-video"));
      return;
    }
    if (target.matches("video.tile-video[data-enhanced]:not([controls])")) playTile(target);
  });

  // The gallery's filters end up in the address bar: leave out the empty ones so a shared link
  // reads like what was chosen.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || elt.id !== "gallery-filters" || event.detail.verb !== "get") return;
    var params = event.detail.parameters;
    var keys = [];
    if (typeof params.keys === "function") {
      for (var key of params.keys()) keys.push(key);
    } else {
      keys = Object.keys(params);
    }
    keys.forEach(function (key) {
      var value = typeof params.get === "function" ? params.get(key) : params[key];
      if (value === "" || (key === "sort" && value === "newest")) {
        if (typeof params.delete === "function") params.delete(key); else delete params[key];
      }
    });
  });

  // The sticky "My jobs" link counts the cards still being made (they are the ones that poll).
  function countRunning() {
    var link = document.querySelector("a.jobs-jump");
    if (!link) return;
    var n = document.querySelectorAll("#job-list .job-card[hx-get]").length;
    link.textContent = n ? fill(link.getAttribute("data-text-running"), { n: n }) : link.getAttribute("data-text-none");
  }
  document.addEventListener("htmx:afterSettle", countRunning);
  document.addEventListener("htmx:oobAfterSwap", countRunning);

  // Live pages: the server sends "live" when a stream starts and "ping" every few seconds. While
  // those arrive, the cards hear of every change at once, and their own poll is only a safety net.
  var LIVE_QUIET_MS = 40000;  // silence this long: the stream is down, cards poll as usual
  var SAFETY_POLL_MS = 30000;
  var liveHeardAt = 0;
  var cardFetchedAt = {};
  var heardSources = typeof WeakSet === "function" ? new WeakSet() : null;
  function heard() { liveHeardAt = Date.now(); }
  document.addEventListener("htmx:sseOpen", function (event) {
    var source = event.detail && event.detail.source;
    if (!source || !heardSources || heardSources.has(source)) return;
    heardSources.add(source);
    source.addEventListener("live", heard);
    source.addEventListener("ping", heard);
  });
  document.addEventListener("htmx:sseError", function () { liveHeardAt = 0; });
  // A tab in the background gives its stream back (browsers allow about six connections per
  // site over HTTP/1.1, and a server holds a thread per stream); it reconnects when shown again,
  // asking for what it missed (?since=<last event id>). The htmx extension sees one source.
  function PausableSource(url) {
    this.url = url;
    this.readyState = 0;
    this.onopen = null;
    this.onerror = null;
    this.lastEventId = "";
    this.closed = false;
    this.listeners = [];
    var self = this;
    this.onVisibility = function () {
      if (document.hidden) self.pause(); else self.resume();
    };
    document.addEventListener("visibilitychange", this.onVisibility);
    if (!document.hidden) this.resume();
  }
  PausableSource.prototype.resume = function () {
    if (this.closed || this.real) return;
    var self = this;
    var url = this.url;
    if (this.lastEventId) url += (url.indexOf("?") < 0 ? "?" : "&") + "since=" + encodeURIComponent(this.lastEventId);
    var real = new EventSource(url, { withCredentials: true });
    this.real = real;
    real.onopen = function (event) {
      self.readyState = real.readyState;
      if (self.onopen) self.onopen(event);
    };
    real.onerror = function (event) {
      self.readyState = real.readyState;
      if (real.readyState === EventSource.CLOSED) self.dispose();  // the extension makes a new one
      if (self.onerror) self.onerror(event);
    };
    real.addEventListener("message", function (event) { self.noteId(event); });
    this.listeners.forEach(function (pair) { real.addEventListener(pair[0], pair[1]); });
  };
  PausableSource.prototype.noteId = function (event) {
    if (event && event.lastEventId) this.lastEventId = event.lastEventId;
  };
  PausableSource.prototype.pause = function () {
    if (!this.real) return;
    this.real.close();
    this.real = null;
    liveHeardAt = 0;  // cards poll again until the stream is back
  };
  PausableSource.prototype.dispose = function () {
    this.closed = true;
    document.removeEventListener("visibilitychange", this.onVisibility);
  };
  PausableSource.prototype.close = function () {
    this.dispose();
    this.pause();
    this.readyState = 2;
  };
  PausableSource.prototype.addEventListener = function (type, listener) {
    var self = this;
    var wrapped = function (event) { self.noteId(event); listener(event); };
    wrapped.original = listener;
    this.listeners.push([type, wrapped]);
    if (this.real) this.real.addEventListener(type, wrapped);
  };
  PausableSource.prototype.removeEventListener = function (type, listener) {
    var real = this.real;
    this.listeners = this.listeners.filter(function (pair) {
      var match = pair[0] === type && pair[1].original === listener;
      if (match && real) real.removeEventListener(type, pair[1]);
      return !match;
    });
  };
  if (window.htmx && typeof EventSource === "function") {
    htmx.createEventSource = function (url) { return new PausableSource(url); };
  }

  var loadedAt = Date.now();
  // configRequest's detail is the request's config; beforeRequest carries it as requestConfig.
  function requestConfig(event) { return (event.detail && (event.detail.requestConfig || event.detail)) || {}; }
  function isCardRequest(event) {
    var config = requestConfig(event);
    var elt = config.elt;
    return !!(elt && elt.classList && elt.classList.contains("job-card") && config.verb === "get");
  }
  function fromLive(event) {
    var trigger = requestConfig(event).triggeringEvent;
    return !!(trigger && typeof trigger.type === "string" && trigger.type.indexOf("sse:") === 0);
  }
  document.addEventListener("htmx:configRequest", function (event) {
    if (isCardRequest(event) && fromLive(event)) event.detail.parameters.live = "1";
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!isCardRequest(event)) return;
    var id = requestConfig(event).elt.id;
    var now = Date.now();
    var live = now - liveHeardAt < LIVE_QUIET_MS;
    if (!fromLive(event) && live && now - (cardFetchedAt[id] || loadedAt) < SAFETY_POLL_MS) {
      event.preventDefault();  // the stream would have said so
      return;
    }
    cardFetchedAt[id] = now;
  });

  document.addEventListener("DOMContentLoaded", function () {
    countRunning();
    // The gallery's filters fold away on phones only: wide screens have room to show them.
    var more = document.querySelector("details.filter-more");
    if (more && window.matchMedia("(min-width: 861px)").matches) more.open = true;
    // Marks in the first page load are not the result of an action: never act on them later.
    document.querySelectorAll("[data-focus-after-swap]").forEach(function (el) {
      el.removeAttribute("data-focus-after-swap");
    });
    syncPictureInput();
    renderPreview();
    enhanceTiles(document);
  });
})();
