/* soraweb: the little the pages need beyond htmx. Every page works without it.
 *
 * - Picture preview: shows the chosen picture the way the provider will receive it (cropped or
 *   with bars to the video frame), using a local object URL; nothing is uploaded until "Generate".
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

  var objectUrls = [];
  var shown = null;  // what the preview shows now, so a refresh that changes nothing does nothing

  function renderPreview() {
    var input = document.getElementById("id_images");
    var box = document.getElementById("image-preview");
    if (!input || !box) return;
    var files = input.files ? Array.prototype.slice.call(input.files, 0, 4) : [];
    var frame = currentFrame();
    var fit = currentFit();
    var key = files.map(function (f) { return f.name + ":" + f.size + ":" + f.lastModified; }).join("|")
      + "/" + (frame ? frame.w + "x" + frame.h : "") + "/" + fit;
    if (box.firstChild && key === shown) return;
    shown = key;
    objectUrls.forEach(function (url) { URL.revokeObjectURL(url); });
    objectUrls = [];
    box.textContent = "";
    if (!files.length) { box.hidden = true; return; }
    var maxBytes = parseInt(input.getAttribute("data-max-bytes") || "0", 10);
    files.forEach(function (file) {
      var item = document.createElement("div");
      item.className = "preview-item";
      var frameBox = document.createElement("div");
      frameBox.className = "preview-frame fit-" + fit;
      if (frame && fit !== "none") frameBox.style.aspectRatio = frame.w + " / " + frame.h;
      var img = document.createElement("img");
      img.alt = box.getAttribute("data-text-alt");
      var url = URL.createObjectURL(file);
      objectUrls.push(url);
      var text = document.createElement("div");
      var name = document.createElement("p");
      name.textContent = file.name;
      name.className = "muted";
      text.appendChild(name);
      if (maxBytes && file.size > maxBytes) {
        var warn = document.createElement("p");
        warn.className = "preview-warning";
        warn.textContent = box.getAttribute("data-text-too-big");
        text.appendChild(warn);
      }
      img.addEventListener("load", function () {
        var size = document.createElement("p");
        size.textContent = fill(box.getAttribute("data-text-original"), { w: img.naturalWidth, h: img.naturalHeight });
        var what = document.createElement("p");
        if (!frame || fit === "none") {
          what.textContent = box.getAttribute("data-text-none");
        } else if (img.naturalWidth === frame.w && img.naturalHeight === frame.h) {
          what.textContent = box.getAttribute("data-text-exact");
        } else {
          what.textContent = fill(box.getAttribute("data-text-" + fit), frame);
        }
        text.appendChild(size);
        text.appendChild(what);
        if (!frame || fit === "none") frameBox.style.aspectRatio = img.naturalWidth + " / " + img.naturalHeight;
      });
      img.src = url;
      frameBox.appendChild(img);
      item.appendChild(frameBox);
      item.appendChild(text);
      box.appendChild(item);
    });
    box.hidden = false;
  }

  function syncPictureInput() {
    // A model that takes no pictures: the file input says so by being disabled.
    var options = document.getElementById("model-options");
    var input = document.getElementById("id_images");
    if (!options || !input) return;
    var max = Number(options.getAttribute("data-max-images") || "0");
    input.disabled = max === 0;
    // A model with a first and a last frame (or several references) takes several pictures.
    input.multiple = max > 1;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "id_images" || target.name === "image_fit") renderPreview();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    syncPictureInput();
    enhanceTiles(document);
    var root = event.detail && event.detail.elt;
    var id = root && root.id;
    if (id === "model-options" || id === "estimate" || id === "fit-options") renderPreview();
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
