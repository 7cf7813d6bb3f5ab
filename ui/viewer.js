// The source viewer: a document opened at a cited quote, in one panel made the first time it is
// needed. A PDF is drawn by pdf.js (served by this server under rag-source/pdfjs/, loaded only
// when a PDF is first opened), an image document as its page, anything else as the text that
// was indexed; the quote is marked over the page from the server's boxes, or in the text.
// Everything a document holds is placed with textContent: nothing from it is parsed as HTML.
//   window.ragViewer.open({collection, doc, start, end, page}) -> Promise (settled once shown)
(() => {
  const ZOOMS = [0.5, 0.67, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3];
  const state = {
    panel: null, parts: null, token: 0, opener: null, target: null, view: null, marks: null,
    page: 1, pages: 1, zoom: 4, pdf: null, pdfKey: "", pdfjs: null, views: new Map(),
  };

  // Routes resolve against the page's own address, so a page served under a root path
  // (behind a proxy) asks its own server.
  function base() {
    const root = window.gradio_config && window.gradio_config.root;
    if (root) return root.endsWith("/") ? root : root + "/";
    const path = location.pathname.endsWith("/") ? location.pathname : location.pathname.replace(/[^/]*$/, "");
    return location.origin + path;
  }
  function route(name, params) {
    const url = new URL("rag-source/" + name, base());
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    return url.toString();
  }
  const asset = (name) => new URL("rag-source/pdfjs/" + name, base()).toString();

  function make(tag, props, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function build() {
    if (state.panel) return state.panel;
    const title = make("h2", { class: "rag-viewer-title", id: "rag-viewer-title", text: "" });
    const section = make("p", { class: "rag-viewer-section", "data-testid": "source-section" });
    const prev = make("button", { type: "button", "data-testid": "viewer-prev", "aria-label": "Previous page", text: "‹ Prev" });
    const next = make("button", { type: "button", "data-testid": "viewer-next", "aria-label": "Next page", text: "Next ›" });
    const where = make("span", { class: "rag-viewer-where", "data-testid": "viewer-page", "aria-live": "polite" });
    const out = make("button", { type: "button", "data-testid": "viewer-zoom-out", "aria-label": "Zoom out", text: "−" });
    const zoom = make("span", { class: "rag-viewer-zoom", "data-testid": "viewer-zoom" });
    const into = make("button", { type: "button", "data-testid": "viewer-zoom-in", "aria-label": "Zoom in", text: "+" });
    const original = make("a", { class: "rag-viewer-original", "data-testid": "viewer-original", download: "", text: "Open original" });
    const close = make("button", { type: "button", class: "rag-viewer-close", "data-testid": "viewer-close", "aria-label": "Close the source viewer", text: "✕" });
    const note = make("p", { class: "rag-viewer-note", "data-testid": "viewer-note", hidden: "" });
    const error = make("p", { class: "rag-viewer-error", "data-testid": "viewer-error", role: "alert", hidden: "" });
    const body = make("div", { class: "rag-viewer-body", tabindex: "0", "aria-label": "Document" });
    const bar = make("div", { class: "rag-viewer-bar" }, [prev, where, next, out, zoom, into, original]);
    const head = make("div", { class: "rag-viewer-head" }, [title, close]);
    const panel = make("div", {
      class: "rag-viewer", role: "dialog", "aria-modal": "false", "aria-labelledby": "rag-viewer-title",
      "data-testid": "source-viewer", "data-state": "closed", tabindex: "-1", hidden: "",
    }, [head, section, bar, note, error, body]);
    document.body.append(panel);
    state.panel = panel;
    state.parts = { title, section, prev, next, where, out, zoom, into, original, close, note, error, body };
    prev.addEventListener("click", () => turn(-1));
    next.addEventListener("click", () => turn(1));
    out.addEventListener("click", () => rezoom(-1));
    into.addEventListener("click", () => rezoom(1));
    close.addEventListener("click", () => hide());
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); hide(); }
      else if (event.key === "Tab") keepFocus(event);
    });
    return panel;
  }

  // Tab moves among the panel's controls while it is open; Esc or the close button leave it.
  function keepFocus(event) {
    const stops = [...state.panel.querySelectorAll("button, a[href], [tabindex='0']")]
      .filter((n) => !n.disabled && !n.hidden && n.offsetParent !== null);
    if (!stops.length) return;
    const first = stops[0], last = stops[stops.length - 1];
    if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
  }

  function hide() {
    if (!state.panel || state.panel.hidden) return;
    state.token += 1;
    state.panel.hidden = true;
    state.panel.dataset.state = "closed";
    const back = state.opener;
    state.opener = null;
    if (back && back.isConnected) back.focus({ preventScroll: true });
  }

  async function json(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (!response.ok) {
      const reason = body && typeof body.detail === "string" ? body.detail : `the server answered ${response.status}`;
      throw new Error(reason);
    }
    return body;
  }

  async function sourceView(collection, doc, fresh) {
    const key = JSON.stringify([collection, doc]);
    if (fresh) state.views.delete(key);
    if (!state.views.has(key)) {
      if (state.views.size >= 8) state.views.delete(state.views.keys().next().value);
      const pending = json(route("view", { collection, doc }));
      state.views.set(key, pending);
      pending.catch(() => state.views.delete(key));
    }
    return state.views.get(key);
  }

  async function loadPdfjs() {
    if (!state.pdfjs) {
      state.pdfjs = import(asset("pdf.min.mjs")).then((lib) => {
        lib.GlobalWorkerOptions.workerSrc = asset("pdf.worker.min.mjs");
        return lib;
      });
      state.pdfjs.catch(() => { state.pdfjs = null; });
    }
    return state.pdfjs;
  }

  async function openPdf(target) {
    const key = JSON.stringify([target.collection, target.doc]);
    if (state.pdf && state.pdfKey === key) return state.pdf;
    const lib = await loadPdfjs();
    if (state.pdf) state.pdf.destroy();
    state.pdf = null;
    const task = lib.getDocument({
      url: route("file", { collection: target.collection, doc: target.doc }), withCredentials: true,
      standardFontDataUrl: asset("standard_fonts/"), cMapUrl: asset("cmaps/"), cMapPacked: true,
      wasmUrl: asset("wasm/"), isEvalSupported: false, enableXfa: false,
    });
    state.pdf = await task.promise;
    state.pdfKey = key;
    return state.pdf;
  }

  // Offsets where pages 2.. begin (a leading 0, page 1's own start, is left out).
  const breaks = (view) => (view.page_starts || []).filter((s) => Number.isInteger(s) && s > 0);

  function pageOf(view, offset) {
    let page = 1;
    breaks(view).forEach((start, i) => { if (offset >= start) page = i + 2; });
    return page;
  }

  function sectionAt(view, offset) {
    let heading = "";
    for (const [start, text] of view.sections || []) if (start <= offset) heading = text;
    return heading;
  }

  function showNote(text) {
    const { note } = state.parts;
    note.textContent = text || "";
    note.hidden = !text;
  }

  function setPage(page, pages) {
    const { prev, next, where } = state.parts;
    state.page = page;
    state.pages = pages;
    state.panel.dataset.page = String(page);
    where.textContent = pages ? `page ${page} of ${pages}` : "";
    prev.disabled = !pages || page <= 1;
    next.disabled = !pages || page >= pages;
    // A document without pages (Markdown, a web page…) has nothing to page through.
    for (const control of [prev, next, where]) control.hidden = !pages;
  }

  function placeMarks(holder, width, height) {
    holder.querySelectorAll("mark.rag-viewer-box").forEach((m) => m.remove());
    const found = (state.marks && state.marks.pages || []).find((p) => p.page === state.page);
    for (const [x0, y0, x1, y1] of (found && found.boxes) || []) {
      const mark = make("mark", { class: "rag-viewer-box", "data-testid": "source-highlight" });
      mark.style.left = `${x0 * width}px`;
      mark.style.top = `${y0 * height}px`;
      mark.style.width = `${(x1 - x0) * width}px`;
      mark.style.height = `${(y1 - y0) * height}px`;
      holder.append(mark);
    }
  }

  const scale = () => ZOOMS[state.zoom];

  async function drawPdf(token) {
    const { body } = state.parts;
    const pdf = await openPdf(state.target);
    const page = await pdf.getPage(state.page);
    if (token !== state.token) return;
    const natural = page.getViewport({ scale: 1 });
    const fit = Math.max(0.1, (body.clientWidth - 24) / natural.width);
    const viewport = page.getViewport({ scale: fit * scale() });
    const ratio = window.devicePixelRatio || 1;
    const canvas = make("canvas", { "data-testid": "viewer-canvas", "aria-label": `Page ${state.page}` });
    canvas.width = Math.floor(viewport.width * ratio);
    canvas.height = Math.floor(viewport.height * ratio);
    canvas.style.width = `${viewport.width}px`;
    canvas.style.height = `${viewport.height}px`;
    const holder = make("div", { class: "rag-viewer-page" }, [canvas]);
    holder.style.width = `${viewport.width}px`;
    holder.style.height = `${viewport.height}px`;
    const context = canvas.getContext("2d");
    await page.render({
      canvas, canvasContext: context, viewport,
      transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null,
    }).promise;
    if (token !== state.token) return;
    placeMarks(holder, viewport.width, viewport.height);
    body.replaceChildren(holder);
    reveal(holder);
  }

  async function drawImage(token) {
    const { body } = state.parts;
    const img = make("img", { "data-testid": "viewer-image", alt: `Page ${state.page}` });
    const loaded = new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error("the page image could not be loaded"));
    });
    img.src = route("page.png", { collection: state.target.collection, doc: state.target.doc, page: state.page });
    await loaded;
    if (token !== state.token) return;
    const fit = Math.min(1, (body.clientWidth - 24) / img.naturalWidth);
    const width = img.naturalWidth * fit * scale(), height = img.naturalHeight * fit * scale();
    img.style.width = `${width}px`;
    img.style.height = `${height}px`;
    const holder = make("div", { class: "rag-viewer-page" }, [img]);
    holder.style.width = `${width}px`;
    holder.style.height = `${height}px`;
    placeMarks(holder, width, height);
    body.replaceChildren(holder);
    reveal(holder);
  }

  // The first mark scrolled into the middle of the view (or the page's top when none).
  function reveal(holder) {
    const first = holder.querySelector("mark");
    const { body } = state.parts;
    if (first) {
      const top = first.getBoundingClientRect().top - body.getBoundingClientRect().top + body.scrollTop;
      body.scrollTop = Math.max(0, top - body.clientHeight / 3);
    } else body.scrollTop = 0;
  }

  // The text as indexed: pages begin at page_starts (each with a small heading), the quote
  // [start, end) is marked.
  function drawText() {
    const { body } = state.parts;
    const view = state.view, text = view.text || "";
    const { start, end } = state.target;
    const cuts = new Set([0, text.length]);
    for (const s of breaks(view)) if (s < text.length) cuts.add(s);
    const quoted = Number.isInteger(start) && Number.isInteger(end) && start < end;
    if (quoted) { cuts.add(Math.max(0, Math.min(start, text.length))); cuts.add(Math.max(0, Math.min(end, text.length))); }
    const points = [...cuts].sort((a, b) => a - b);
    const pre = make("pre", { class: "rag-viewer-text", "data-testid": "viewer-text" });
    pre.style.fontSize = `${0.9 * scale()}rem`;
    const starts = new Set(breaks(view));
    let page = 1;
    for (let i = 0; i + 1 < points.length; i += 1) {
      const a = points[i], b = points[i + 1];
      if (starts.has(a)) {
        page += 1;
        pre.append(make("span", { class: "rag-viewer-break", "data-page-start": String(page), "aria-hidden": "true",
          text: `\n— page ${page} —\n` }));
      }
      const piece = text.slice(a, b);
      if (quoted && a >= start && b <= end) pre.append(make("mark", { "data-testid": "source-highlight", text: piece }));
      else pre.append(document.createTextNode(piece));
    }
    body.replaceChildren(pre);
    const first = pre.querySelector("mark");
    if (first) first.scrollIntoView({ block: "center" });
    else body.scrollTop = 0;
  }

  function scrollTextTo(page) {
    const pre = state.parts.body.querySelector("pre.rag-viewer-text");
    if (!pre) return;
    const anchor = page <= 1 ? null : pre.querySelector(`[data-page-start="${page}"]`);
    if (anchor) anchor.scrollIntoView({ block: "start" });
    else state.parts.body.scrollTop = 0;
  }

  async function draw(token) {
    const kind = state.shown;
    if (kind === "pdf") await drawPdf(token);
    else if (kind === "image") await drawImage(token);
    else if (kind === "text") drawText();
    if (token !== state.token) return;
    state.parts.zoom.textContent = `${Math.round(scale() * 100)}%`;
    state.parts.out.disabled = state.zoom === 0;
    state.parts.into.disabled = state.zoom === ZOOMS.length - 1;
    state.panel.dataset.renderedPage = String(state.page);
    state.panel.dataset.view = kind;
    state.panel.dataset.state = "ready";
  }

  async function turn(step) {
    if (!state.target || state.page + step < 1 || state.page + step > state.pages) return;
    setPage(state.page + step, state.pages);
    if (state.shown === "text") { scrollTextTo(state.page); state.panel.dataset.renderedPage = String(state.page); return; }
    await guarded(() => draw(state.token));
  }

  async function rezoom(step) {
    const next = Math.max(0, Math.min(ZOOMS.length - 1, state.zoom + step));
    if (next === state.zoom || !state.target) return;
    state.zoom = next;
    await guarded(() => draw(state.token));
  }

  async function guarded(work) {
    const token = state.token;
    state.panel.dataset.state = "loading";
    try { await work(); } catch (err) { if (token === state.token) fail(err); throw err; }
  }

  function fail(err) {
    const { error } = state.parts;
    error.textContent = `The source could not be shown: ${(err && err.message) || err}`;
    error.hidden = false;
    state.panel.dataset.state = "error";
  }

  async function open(target) {
    const panel = build();
    const p = state.parts;
    const token = (state.token += 1);
    const collection = String(target.collection || "default"), doc = String(target.doc || "");
    const start = Number.parseInt(target.start, 10), end = Number.parseInt(target.end, 10);
    const wanted = Number.parseInt(target.page, 10);
    state.target = { collection, doc, start, end };
    if (panel.hidden) {
      const active = document.activeElement;
      state.opener = active && active !== document.body ? active : target.opener || null;
    }
    if (target.opener) state.opener = target.opener;
    panel.hidden = false;
    panel.dataset.state = "loading";
    panel.dataset.collection = collection;
    panel.dataset.doc = doc;
    delete panel.dataset.renderedPage;
    p.error.hidden = true;
    p.error.textContent = "";
    showNote("");
    p.title.textContent = doc;
    p.section.textContent = "";
    p.body.replaceChildren(make("p", { class: "rag-viewer-loading", text: "Opening…" }));
    p.close.focus({ preventScroll: true });
    try {
      const quoted = Number.isInteger(start) && Number.isInteger(end) && start < end;
      let [view, marks] = await Promise.all([
        sourceView(collection, doc),
        quoted ? json(route("highlights", { collection, doc, start, end })) : Promise.resolve(null),
      ]);
      if (token !== state.token) return { state: "superseded" };
      if (marks && view.text.slice(start, end) !== marks.quote) {
        // The document was indexed again since its text was fetched: fetch it (and its file) anew.
        view = await sourceView(collection, doc, true);
        state.pdfKey = "";
        if (token !== state.token) return { state: "superseded" };
      }
      state.view = view;
      state.marks = marks;
      p.title.textContent = view.title || doc;
      p.section.textContent = quoted ? sectionAt(view, start) : "";
      p.section.hidden = !p.section.textContent;
      if (view.original) {
        p.original.href = route("file", { collection, doc, download: 1 });
        p.original.hidden = false;
      } else {
        p.original.removeAttribute("href");
        p.original.hidden = true;
      }
      let shown = view.view;
      if (shown === "pdf") {
        try { await loadPdfjs(); } catch (_) {
          shown = "text";
          showNote("pdf.js is not installed on this server (make setup fetches it): showing the PDF's text.");
        }
      }
      if (shown !== "text" && !view.original) shown = "text";
      state.shown = shown;
      const pages = view.pages || (breaks(view).length ? breaks(view).length + 1 : 0);
      const first = (marks && marks.page_first) || (quoted ? pageOf(view, start) : 1);
      const page = Number.isInteger(wanted) && wanted >= 1 && (!pages || wanted <= pages) ? wanted : first;
      setPage(Math.max(1, Math.min(page, pages || 1)), pages);
      if (shown !== "text" && marks && !marks.method && quoted) showNote("The quote's place on the page was not found: the page is shown without a highlight.");
      await draw(token);
      if (shown === "text" && state.page > 1 && !(quoted)) scrollTextTo(state.page);
      if (token !== state.token) return { state: "superseded" };
      return { state: "ready", page: state.page, view: shown };
    } catch (err) {
      if (token === state.token) fail(err);
      throw err;
    }
  }

  function openFrom(node) {
    const d = node.dataset;
    open({ collection: d.collection, doc: d.doc, start: d.start, end: d.end, page: d.page, opener: node })
      .catch(() => {});  // shown in the panel
  }

  // The card's Open button.
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button.rag-open") : null;
    if (!button) return;
    event.preventDefault();
    openFrom(button);
  });

  // A marker [n] in an answer opens the viewer at that marker's quote (ui/cite.js has shown and
  // flashed its card by then: it listens in the capture phase).
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.rag-cite") : null;
    if (!link) return;
    const found = /^#rag-src-(\d+)-(\d+)$/.exec(link.getAttribute("href") || "");
    if (!found) return;
    const [, turnIndex, marker] = found;
    const card = document.querySelector(`#sources .rag-turn[data-turn="${turnIndex}"] .rag-source[data-markers~="${marker}"]`);
    if (!card || !card.dataset.doc) return;
    const cite = (card.dataset.cites || "").split(" ").map((c) => c.split(":")).find((c) => c[0] === marker);
    if (!cite) return;
    const [, start, end, page] = cite;
    open({ collection: card.dataset.collection, doc: card.dataset.doc, start, end, page, opener: link })
      .catch(() => {});
  }, true);

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.panel && !state.panel.hidden) hide();
  });

  window.ragViewer = { open, close: hide };
})();
