// The page of mnist_app.serve: drawing pad, upload, answer, teach, look inside.
// Plain JavaScript, no build step, no other hosts. The API is described in docs/serve.md.
"use strict";

(() => {
  const STROKE = 22;      // px on the 280 px pad: a 200 px digit then has MNIST's ~2 px strokes
  const DRAW_EVERY_MS = 120; // while drawing: ask for an answer at most this often
  const token = document.querySelector('meta[name="mnist-token"]').content;
  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const ctx = pad.getContext("2d");
  const SIZE = pad.width;

  let strokes = [];        // each a list of [x, y] in pad pixels
  let drawing = null;      // the stroke being drawn
  let upload = null;       // {blob, name} when the pad shows an uploaded image
  let shown = null;        // {blob, kind, name}: the image the current answer is for (Teach saves it)
  let timer = 0, inFlight = false, again = false;
  let pointerUpAt = null;  // performance.now() of the last pointer-up, for the latency figure
  // Pointer-up to answer drawn, in ms, one entry per answer (read by the browser test and benchmark).
  window.mnistTimings = [];
  // Whether every answer asked for has been drawn (none waiting, in flight or queued behind one):
  // the browser test waits on this rather than for a fixed time.
  window.mnistSettled = () => !timer && !inFlight && !again;

  // ------------------------------------------------------------------ drawing pad
  function clearPad() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, SIZE, SIZE);
  }

  function strokeStyle() {
    ctx.strokeStyle = "#000";
    ctx.lineWidth = STROKE;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  function drawStroke(s) {
    ctx.beginPath();
    ctx.moveTo(s[0][0], s[0][1]);
    for (const [x, y] of s.length > 1 ? s.slice(1) : s) ctx.lineTo(x, y);
    ctx.stroke();
  }

  function redraw() {
    clearPad();
    strokeStyle();
    strokes.forEach(drawStroke);
  }

  function at(e) {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * SIZE / r.width, (e.clientY - r.top) * SIZE / r.height];
  }

  pad.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    if (upload) { upload = null; strokes = []; }
    drawing = [at(e)];
    strokes.push(drawing);
    redraw();
  });

  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    strokeStyle();
    ctx.beginPath();
    ctx.moveTo(...drawing[drawing.length - 1]);
    for (const ev of events.length ? events : [e]) {
      const p = at(ev);
      drawing.push(p);
      ctx.lineTo(p[0], p[1]);
    }
    ctx.stroke();
    schedule(DRAW_EVERY_MS);
  });

  function penUp() {
    if (!drawing) return;
    drawing = null;
    pointerUpAt = performance.now();
    schedule(0);
  }
  pad.addEventListener("pointerup", penUp);
  pad.addEventListener("pointercancel", penUp);

  $("undo").addEventListener("click", () => {
    if (upload) { upload = null; strokes = []; } else { strokes.pop(); }
    redraw();
    strokes.length ? schedule(0) : showEmpty();
  });
  $("clear").addEventListener("click", () => {
    upload = null;
    strokes = [];
    redraw();
    showEmpty();
  });

  // ------------------------------------------------------------------------ upload
  function useFile(file) {
    if (!file) return;
    upload = { blob: file, name: file.name || "upload" };
    strokes = [];
    clearPad();
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => {
      const k = Math.min(SIZE / img.naturalWidth, SIZE / img.naturalHeight);
      const w = img.naturalWidth * k, h = img.naturalHeight * k;
      ctx.drawImage(img, (SIZE - w) / 2, (SIZE - h) / 2, w, h);
      URL.revokeObjectURL(url);
    };
    img.onerror = () => URL.revokeObjectURL(url); // e.g. HEIC: no preview; the server says why
    img.src = url;
    pointerUpAt = performance.now();
    schedule(0);
  }
  $("file").addEventListener("change", (e) => { useFile(e.target.files[0]); e.target.value = ""; });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    useFile(e.dataTransfer.files[0]);
  });

  // ---------------------------------------------------------- asking the server
  // delay 0: ask now (pen up, undo, upload). Otherwise ask once `delay` ms from the first call
  // that finds no request waiting: while the pen moves the answer follows every DRAW_EVERY_MS.
  function schedule(delay) {
    if (delay === 0) clearTimeout(timer);
    else if (timer) return;
    timer = setTimeout(() => { timer = 0; ask(); }, delay);
  }

  // The pad as a PNG. Not canvas.toBlob: Chromium encodes that in idle time, which can take a
  // whole second while the page is busy; toDataURL takes well under a millisecond for 280x280.
  function padPng() {
    const b64 = pad.toDataURL("image/png").split(",")[1];
    return new Blob([bytes(b64)], { type: "image/png" });
  }

  function currentImage() {
    if (upload) return { blob: upload.blob, kind: "upload", name: upload.name };
    return { blob: padPng(), kind: "drawn", name: "drawing" };
  }

  async function ask() {
    if (inFlight) { again = true; return; }   // at most one request in flight: ask again after it
    if (!upload && !strokes.length) return;
    inFlight = true;
    const since = pointerUpAt;
    pointerUpAt = null;
    try {
      const image = currentImage();
      const res = await fetch("/api/predict?name=" + encodeURIComponent(image.name), {
        method: "POST",
        body: image.blob,
        headers: { "content-type": image.blob.type || "application/octet-stream" },
      });
      const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
      if (!upload && !strokes.length) return;   // cleared meanwhile
      if (res.ok) { shown = image; showAnswer(body); } else { shown = null; showError(body.error || res.statusText); }
      if (since !== null) {
        requestAnimationFrame(() => window.mnistTimings.push(performance.now() - since));
      }
    } catch (err) {
      showError("cannot reach the server (" + err.message + ")");
    } finally {
      inFlight = false;
      if (again) { again = false; ask(); }
    }
  }

  // ----------------------------------------------------------------- the answer
  const bars = $("bars");
  for (let d = 0; d < 10; d++) {
    const li = document.createElement("li");
    li.innerHTML = `<span class="d">${d}</span><span class="track"><span class="bar"></span></span><span class="p"></span>`;
    bars.appendChild(li);
  }

  function showEmpty() {
    shown = null;
    $("answer").className = "answer empty";
    $("digit").textContent = "?";
    $("confidence").textContent = "draw a digit to see the answer";
    $("unsure").textContent = "";
    $("error").textContent = "";
    for (const li of bars.children) { li.className = ""; li.querySelector(".bar").style.width = "0"; li.querySelector(".p").textContent = ""; }
    paintGrey($("input"), new Float32Array(28 * 28));
    $("units").textContent = "";
    $("strip").textContent = "";
    setTeach(false);
  }

  function showError(message) {
    $("answer").className = "answer empty";
    $("digit").textContent = "!";
    $("confidence").textContent = "no answer";
    $("unsure").textContent = "";
    $("error").textContent = message;
    setTeach(false);
  }

  // One digit's bars, 28x28 input and hidden layer (the answer's, or one digit of a number's).
  function showDetail(d) {
    d.probabilities.forEach((p, k) => {
      const li = bars.children[k];
      li.className = k === d.digit ? "top" : "";
      li.querySelector(".bar").style.width = (100 * p).toFixed(1) + "%";
      li.querySelector(".p").textContent = (100 * p).toFixed(1) + "%";
    });
    paintGrey($("input"), d.input);
    showInside(d.hidden);
  }

  // A number: each digit as the network saw it; clicking one shows its bars and hidden layer.
  function showStrip(digits) {
    const strip = $("strip");
    strip.textContent = "";
    digits.forEach((d, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "seen" + (d.unsure ? " unsure" : "") + (i === 0 ? " picked" : "");
      b.title = `digit ${i + 1}: show its probabilities and hidden layer`;
      const cv = document.createElement("canvas");
      cv.width = cv.height = 28;
      cv.className = "pixels";
      paintGrey(cv, d.input);
      const cap = document.createElement("span");
      cap.textContent = `${d.digit}${d.unsure ? "?" : ""} ${(100 * d.confidence).toFixed(0)}%`;
      b.append(cv, cap);
      b.addEventListener("click", () => {
        for (const other of strip.children) other.classList.remove("picked");
        b.classList.add("picked");
        showDetail(d);
      });
      strip.appendChild(b);
    });
  }

  function showAnswer(a) {
    $("error").textContent = "";
    $("answer").className = a.unsure ? "answer unsure" : "answer";
    const read = a.number !== null ? a.number : String(a.digit);
    $("digit").textContent = a.unsure ? read + "?" : read;
    const pct = `${(100 * a.confidence).toFixed(1)}%`;
    if (a.number !== null) {
      $("confidence").textContent = (a.unsure ? "unsure, perhaps " : "it reads ") + a.number +
        ` (least sure digit ${pct})`;
    } else {
      $("confidence").textContent = (a.unsure ? "unsure, perhaps " + a.digit : "it is a " + a.digit) + ` (${pct})`;
    }
    $("unsure").textContent = a.unsure && a.unsure_reason ? a.unsure_reason : "";
    showStrip(a.digits || []);
    showDetail(a.digits ? a.digits[0] : a);
    setTeach(a.number === null);
    $("saved").textContent = a.number === null ? "" :
      `This image holds ${a.digits.length} digits; Teach takes one digit at a time.`;
  }

  function bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  // values in [0, 1] (or bytes 0-255 when `scale` is 1) drawn as grey pixels
  function paintGrey(canvas, values, scale = 255) {
    const c = canvas.getContext("2d");
    const img = c.createImageData(canvas.width, canvas.height);
    for (let i = 0; i < canvas.width * canvas.height; i++) {
      const v = i < values.length ? Math.round(values[i] * scale) : 40;
      img.data.set([v, v, v, 255], 4 * i);
    }
    c.putImageData(img, 0, 0);
  }

  function paintWeights(canvas, u8) {
    const c = canvas.getContext("2d");
    const img = c.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const w = (u8[i] - 127.5) / 127.5;   // -1 .. 1 (times the unit's largest weight)
      const k = Math.round(255 * (1 - Math.abs(w)));
      img.data.set(w >= 0 ? [255, k, k, 255] : [k, k, 255, 255], 4 * i);
    }
    c.putImageData(img, 0, 0);
  }

  function showInside(hidden) {
    const map = $("hidden");
    const cols = Math.ceil(Math.sqrt(hidden.size * 2));
    const rows = Math.ceil(hidden.size / cols);
    if (map.width !== cols || map.height !== rows) { map.width = cols; map.height = rows; }
    paintGrey(map, bytes(hidden.activations_u8), 1);
    const units = $("units");
    units.textContent = "";
    for (const u of hidden.top) {
      const fig = document.createElement("figure");
      const cv = document.createElement("canvas");
      cv.width = cv.height = 28;
      cv.className = "pixels unit";
      paintWeights(cv, bytes(u.weights_u8));
      const cap = document.createElement("figcaption");
      cap.textContent = `#${u.unit}: ${u.activation.toFixed(2)}`;
      fig.append(cv, cap);
      units.appendChild(fig);
    }
  }

  // ---------------------------------------------------------------------- teach
  const labels = $("labels");
  for (let d = 0; d < 10; d++) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = d;
    b.dataset.label = d;
    b.title = `save this image as a ${d}`;
    b.addEventListener("click", () => teach(d));
    labels.appendChild(b);
  }
  function setTeach(on) { for (const b of labels.children) b.disabled = !on; }

  function showCounts(counts) {
    $("counts").textContent = Object.entries(counts).map(([d, n]) => `${d}: ${n}`).join("\u2003");
  }

  async function teach(label) {
    if (!shown) return;
    const image = shown;
    const query = `label=${label}&source=${image.kind}&name=${encodeURIComponent(image.name)}`;
    try {
      const res = await fetch("/api/samples?" + query, {
        method: "POST",
        body: image.blob,
        headers: { "x-mnist-token": token, "content-type": image.blob.type || "application/octet-stream" },
      });
      const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
      if (!res.ok) { $("saved").textContent = "not saved: " + (body.error || res.statusText); return; }
      $("saved").textContent = `saved as a ${body.label}: ${body.folder}/${body.file}`;
      showCounts(body.counts);
    } catch (err) {
      $("saved").textContent = "not saved: cannot reach the server (" + err.message + ")";
    }
  }

  // --------------------------------------------------------------------- start
  fetch("/api/model").then((r) => r.json()).then((m) => { $("model").textContent = "model: " + m.description; })
    .catch(() => { $("model").textContent = "model: (server not reachable)"; });
  fetch("/api/samples").then((r) => r.json()).then((s) => showCounts(s.counts)).catch(() => {});
  redraw();
  showEmpty();
})();
