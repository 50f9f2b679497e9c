// CandleChart's view: a small canvas renderer for omni_research (bundled, no CDN, no build).
//
// The browser owns the view: wheel zooms around the cursor, drag pans, keys +/-/arrows/Home.
// Each change redraws the candles it has, rescaled, in the next animation frame, and asks the
// kernel for the candles of the new range at once (at most once per frame, at most two
// requests in flight), which Python re-aggregates exactly (omni_research/_zoom.py) and sends
// as one float64 buffer.
//
// DOM contract (read by the browser tests): the root has class "omni-candle-chart", holds a
// <canvas>, and after each redraw with new candles carries data-start / data-end (ISO UTC of
// the range), data-candles, data-timeframe and data-redraw-ms (input event -> redrawn, in JS).
// The hover readout (class "omni-chart-readout") reads
// "YYYY-MM-DD HH:MM UTC O <o> H <h> L <l> C <c> V <v> name=<value> ...".
// renderStatic() draws the same chart with no kernel, from levels embedded in the page.

const UP = "#26a69a";
const DOWN = "#ef5350";
const GRID = "#ececec";
const TEXT = "#444";
const LINES = ["#1e88e5", "#fb8c00", "#8e24aa", "#43a047", "#6d4c41", "#d81b60", "#00acc1", "#c0ca33"];
const AXIS_W = 76; // price labels on the right
const AXIS_H = 22; // time labels at the bottom
const GAP = 6; // between panels
const MINUTE = 60e3;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MONDAY = 4 * DAY; // 1970-01-05 was a Monday
const TIME_STEPS = [
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY,
];
const MONTH_STEPS = [1, 2, 3, 6, 12, 24, 60, 120];

function num(v) {
  return Number.isFinite(v) ? v.toPrecision(10) : "nan";
}

function isoMinute(ms) {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function f64(buf) {
  if (!buf) return new Float64Array(0);
  if (buf instanceof ArrayBuffer) return new Float64Array(buf.slice(0));
  const copy = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return new Float64Array(copy);
}

// first index i with a[i] >= x (a sorted ascending)
function lowerBound(a, x, lo = 0, hi = a.length) {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function niceStep(range, count) {
  const raw = range / Math.max(count, 1);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function fmtAxis(v, step) {
  const digits = Math.max(0, Math.min(10, -Math.floor(Math.log10(step)) + 1));
  if (Math.abs(v) >= 1e6) return v.toExponential(3);
  return v.toFixed(digits);
}

function timeTicks(s, e, count) {
  const span = e - s;
  const want = span / Math.max(count, 1);
  const out = [];
  const step = TIME_STEPS.find((st) => st >= want);
  if (step !== undefined) {
    const off = step % (7 * DAY) === 0 ? MONDAY : 0;
    let t = Math.ceil((s - off) / step) * step + off;
    for (; t < e && out.length < 200; t += step) out.push(t);
    const fmt = step < DAY ? (t) => new Date(t).toISOString().slice(5, 16).replace("T", " ")
      : (t) => new Date(t).toISOString().slice(0, 10);
    return out.map((t) => [t, fmt(t)]);
  }
  const months = MONTH_STEPS.find((m) => m * 30.4 * DAY >= want) ?? 240;
  const d0 = new Date(s);
  let y = d0.getUTCFullYear();
  let m = Math.ceil(d0.getUTCMonth() / months) * months;
  for (;;) {
    y += Math.floor(m / 12);
    m %= 12;
    const t = Date.UTC(y, m, 1);
    if (t >= e || out.length > 200) break;
    if (t >= s) out.push([t, months >= 12 ? String(y) : new Date(t).toISOString().slice(0, 7)]);
    m += months;
  }
  return out;
}

function render({ model, el }) {
  const client = Math.random().toString(36).slice(2);
  const root = document.createElement("div");
  root.className = "omni-candle-chart";
  root.tabIndex = 0;
  const head = document.createElement("div");
  head.className = "omni-chart-head";
  const titleEl = document.createElement("span");
  titleEl.className = "omni-chart-title";
  const status = document.createElement("span");
  status.className = "omni-chart-status";
  head.append(titleEl, status);
  const readout = document.createElement("div");
  readout.className = "omni-chart-readout";
  const canvas = document.createElement("canvas");
  root.append(head, readout, canvas);
  el.append(root);
  const ctx = canvas.getContext("2d");

  let view = { s: model.get("view")[0], e: model.get("view")[1] };
  let data = null; // {n, ts, o, h, l, c, v, series[], bucket, timeframe}
  let trades = new Float64Array(0);
  let width = 800;
  let hoverX = null;
  let drag = null;
  let seq = 0;
  const inflight = new Map(); // seq -> time sent
  const MAX_INFLIGHT = 2;
  let dirty = false;
  let pendingSince = null;
  const sentAt = new Map();
  let raf = 0;
  let sentThisFrame = false;
  let layout = null;

  function panelsOf() {
    const names = ["price", "volume"];
    for (const s of model.get("series")) if (s.panel !== "price" && !names.includes(s.panel)) names.push(s.panel);
    return names;
  }

  function resize() {
    const w = Math.max(200, Math.floor(root.clientWidth || 800));
    const h = model.get("chart_height");
    const dpr = window.devicePixelRatio || 1;
    width = w;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    draw();
  }

  function computeLayout() {
    const h = model.get("chart_height");
    const names = panelsOf();
    const weights = names.map((n) => (n === "price" ? 4 : n === "volume" ? 1.1 : 1.5));
    const total = weights.reduce((a, b) => a + b, 0);
    const avail = h - AXIS_H - GAP * names.length;
    let y = GAP;
    const panels = names.map((name, i) => {
      const ph = (avail * weights[i]) / total;
      const p = { name, y, h: ph };
      y += ph + GAP;
      return p;
    });
    return { panels, plotW: width - AXIS_W, h };
  }

  const xOf = (t) => ((t - view.s) / (view.e - view.s)) * layout.plotW;
  const tOf = (x) => view.s + (x / layout.plotW) * (view.e - view.s);

  function visibleSlice() {
    if (!data || data.n === 0) return [0, 0];
    const i0 = lowerBound(data.ts, view.s - data.bucket + 1e-9);
    const i1 = lowerBound(data.ts, view.e);
    return [i0, Math.max(i0, i1)];
  }

  function lineSeries(p, arr, i0, i1, yOf, color) {
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    let pen = false;
    for (let i = i0; i < i1; i++) {
      const v = arr[i];
      if (!Number.isFinite(v)) { pen = false; continue; }
      const x = xOf(data.ts[i] + data.bucket / 2);
      const y = yOf(v);
      if (pen) ctx.lineTo(x, y);
      else { ctx.moveTo(x, y); pen = true; }
    }
    ctx.stroke();
  }

  function yAxis(p, lo, hi) {
    const step = niceStep(hi - lo, Math.max(2, p.h / 38));
    ctx.fillStyle = TEXT;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
      const y = p.y + p.h - ((v - lo) / (hi - lo)) * p.h;
      ctx.beginPath();
      ctx.moveTo(0, Math.round(y) + 0.5);
      ctx.lineTo(layout.plotW, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.fillText(fmtAxis(v, step), layout.plotW + 4, y);
    }
  }

  function range(arrs, i0, i1) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const a of arrs) for (let i = i0; i < i1; i++) {
      const v = a[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(hi >= lo)) return [0, 1];
    if (hi === lo) { const d = Math.abs(hi) * 1e-3 || 1; return [lo - d, hi + d]; }
    const pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  }

  function draw() {
    layout = computeLayout();
    const { panels, plotW, h } = layout;
    ctx.clearRect(0, 0, width, h);
    ctx.font = "11px sans-serif";
    titleEl.textContent = model.get("title");
    // time grid
    const ticks = timeTicks(view.s, view.e, plotW / 110);
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    ctx.fillStyle = TEXT;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const [t, label] of ticks) {
      const x = Math.round(xOf(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, h - AXIS_H);
      ctx.stroke();
      ctx.fillText(label, x, h - AXIS_H + 4);
    }
    const hl = model.get("highlight");
    if (hl && hl.length === 2) {
      ctx.fillStyle = "rgba(255,167,38,0.25)";
      const x0 = Math.max(0, xOf(hl[0]));
      const x1 = Math.min(plotW, xOf(hl[1]));
      if (x1 > x0) ctx.fillRect(x0, 0, Math.max(1, x1 - x0), h - AXIS_H);
    }
    if (!data) return;
    const [i0, i1] = visibleSlice();
    const series = model.get("series");
    const cols = new Map(series.map((s, k) => [s.name, data.series[k]]));
    const bw = (data.bucket / (view.e - view.s)) * plotW;
    const body = Math.max(1, bw * 0.7);
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, 0, plotW, h);
    ctx.clip();
    for (const p of panels) {
      let arrs;
      if (p.name === "price") {
        arrs = [data.l.subarray(i0, i1), data.h.subarray(i0, i1)];
        const over = series.filter((s) => s.panel === "price").map((s) => cols.get(s.name));
        const [lo0, hi0] = range(arrs, 0, i1 - i0);
        let [lo, hi] = range(over, i0, i1);
        // overlays widen the scale only a little: candles stay readable
        const span = hi0 - lo0;
        lo = Math.max(Math.min(lo0, lo), lo0 - span * 0.25);
        hi = Math.min(Math.max(hi0, hi), hi0 + span * 0.25);
        if (!over.length) { lo = lo0; hi = hi0; }
        p.lo = lo; p.hi = hi;
        const yOf = (v) => p.y + p.h - ((v - lo) / (hi - lo)) * p.h;
        p.yOf = yOf;
        for (const [up, color] of [[true, UP], [false, DOWN]]) {
          ctx.fillStyle = color;
          ctx.strokeStyle = color;
          ctx.lineWidth = 1;
          ctx.beginPath();
          for (let i = i0; i < i1; i++) {
            if ((data.c[i] >= data.o[i]) !== up) continue;
            const xc = Math.round(xOf(data.ts[i] + data.bucket / 2)) + 0.5;
            ctx.moveTo(xc, yOf(data.h[i]));
            ctx.lineTo(xc, yOf(data.l[i]));
          }
          ctx.stroke();
          if (body > 1.5) {
            ctx.beginPath();
            for (let i = i0; i < i1; i++) {
              if ((data.c[i] >= data.o[i]) !== up) continue;
              const xc = xOf(data.ts[i] + data.bucket / 2);
              const y0 = yOf(Math.max(data.o[i], data.c[i]));
              const y1 = yOf(Math.min(data.o[i], data.c[i]));
              ctx.rect(xc - body / 2, y0, body, Math.max(1, y1 - y0));
            }
            ctx.fill();
          }
        }
        series.forEach((s, k) => {
          if (s.panel === "price") lineSeries(p, cols.get(s.name), i0, i1, yOf, LINES[k % LINES.length]);
        });
        // trade markers
        for (let j = 0; j < trades.length; j += 3) {
          const t = trades[j];
          if (t < view.s || t >= view.e) continue;
          const x = xOf(t);
          const y = yOf(trades[j + 1]);
          const buy = trades[j + 2] > 0;
          ctx.fillStyle = buy ? UP : DOWN;
          ctx.strokeStyle = "#000";
          ctx.beginPath();
          if (buy) { ctx.moveTo(x, y); ctx.lineTo(x - 5, y + 9); ctx.lineTo(x + 5, y + 9); }
          else { ctx.moveTo(x, y); ctx.lineTo(x - 5, y - 9); ctx.lineTo(x + 5, y - 9); }
          ctx.closePath();
          ctx.fill();
          ctx.stroke();
        }
      } else if (p.name === "volume") {
        let hi = 0;
        for (let i = i0; i < i1; i++) if (data.v[i] > hi) hi = data.v[i];
        hi = hi > 0 ? hi * 1.05 : 1;
        p.lo = 0; p.hi = hi;
        const yOf = (v) => p.y + p.h - (v / hi) * p.h;
        for (const [up, color] of [[true, UP], [false, DOWN]]) {
          ctx.fillStyle = color + "99";
          ctx.beginPath();
          for (let i = i0; i < i1; i++) {
            if ((data.c[i] >= data.o[i]) !== up) continue;
            const xc = xOf(data.ts[i] + data.bucket / 2);
            const y = yOf(data.v[i]);
            ctx.rect(xc - body / 2, y, body, p.y + p.h - y);
          }
          ctx.fill();
        }
      } else {
        const mine = series.map((s, k) => [s, k]).filter(([s]) => s.panel === p.name);
        const [lo, hi] = range(mine.map(([s]) => cols.get(s.name)), i0, i1);
        p.lo = lo; p.hi = hi;
        const yOf = (v) => p.y + p.h - ((v - lo) / (hi - lo)) * p.h;
        for (const [s, k] of mine) lineSeries(p, cols.get(s.name), i0, i1, yOf, LINES[k % LINES.length]);
      }
    }
    // crosshair
    if (hoverX !== null && hoverX < plotW) {
      ctx.strokeStyle = "#888";
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(Math.round(hoverX) + 0.5, 0);
      ctx.lineTo(Math.round(hoverX) + 0.5, h - AXIS_H);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.restore();
    for (const p of panels) {
      if (p.lo === undefined) continue;
      yAxis(p, p.lo, p.hi);
      ctx.fillStyle = TEXT;
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      const names = p.name === "price" || p.name === "volume"
        ? [p.name, ...series.filter((s) => s.panel === p.name).map((s) => s.name)]
        : series.filter((s) => s.panel === p.name).map((s) => s.name);
      ctx.fillText(names.join("  "), 4, p.y + 2);
      ctx.strokeStyle = "#ccc";
      ctx.strokeRect(0.5, Math.round(p.y) + 0.5, plotW, Math.round(p.h));
    }
    updateReadout(i0, i1);
  }

  function updateReadout(i0, i1) {
    if (!data || i1 <= i0) { readout.textContent = ""; return; }
    let i = i1 - 1;
    if (hoverX !== null) {
      const t = tOf(hoverX);
      const k = lowerBound(data.ts, t + 1e-9) - 1;
      if (k >= 0 && t < data.ts[k] + data.bucket) i = k;
      else return;
    }
    let text = `${isoMinute(data.ts[i])} O ${num(data.o[i])} H ${num(data.h[i])} L ${num(data.l[i])} C ${num(data.c[i])} V ${num(data.v[i])}`;
    model.get("series").forEach((s, k) => { text += ` ${s.name}=${num(data.series[k][i])}`; });
    readout.textContent = text;
  }

  function schedule() {
    if (!raf) raf = requestAnimationFrame(frame);
  }

  function frame() {
    raf = 0;
    sentThisFrame = false;
    draw();
    if (dirty && canSend()) send();
  }

  function canSend() {
    // a lost answer (kernel busy or restarted) frees its slot after 3 s
    const now = performance.now();
    for (const [k, t] of inflight) if (now - t > 3000) inflight.delete(k);
    return inflight.size < MAX_INFLIGHT;
  }

  function send(type = "zoom") {
    dirty = false;
    sentThisFrame = true;
    seq += 1;
    inflight.set(seq, performance.now());
    sentAt.set(seq, pendingSince ?? performance.now());
    pendingSince = null;
    model.send({ type, start: view.s, end: view.e, seq, client });
  }

  function changed() {
    if (pendingSince === null) pendingSince = performance.now();
    dirty = true;
    if (!sentThisFrame && canSend()) send(); // the kernel starts now, the frame redraws
    schedule();
  }

  function clamp(s, e) {
    const [x0, x1] = model.get("extent");
    const full = x1 - x0;
    let span = Math.min(Math.max(e - s, model.get("min_span_ms")), full * 1.5);
    let mid = (s + e) / 2;
    mid = Math.min(Math.max(mid, x0), x1);
    return { s: mid - span / 2, e: mid + span / 2 };
  }

  function zoomAt(t, factor) {
    view = clamp(t - (t - view.s) * factor, t + (view.e - t) * factor);
    changed();
  }

  function onWheel(ev) {
    ev.preventDefault();
    const rect = canvas.getBoundingClientRect();
    const x = Math.min(ev.clientX - rect.left, layout.plotW);
    const dy = ev.deltaY * (ev.deltaMode === 1 ? 33 : ev.deltaMode === 2 ? 400 : 1);
    zoomAt(tOf(x), Math.pow(1.0015, Math.max(-500, Math.min(500, dy))));
  }

  function onDown(ev) {
    if (ev.button !== 0) return;
    root.focus({ preventScroll: true });
    drag = { x: ev.clientX, s: view.s, e: view.e };
    canvas.setPointerCapture(ev.pointerId);
  }

  function onMove(ev) {
    const rect = canvas.getBoundingClientRect();
    hoverX = ev.clientX - rect.left;
    if (drag) {
      const shift = ((ev.clientX - drag.x) / layout.plotW) * (drag.e - drag.s);
      if (shift !== 0) {
        view = clamp(drag.s - shift, drag.e - shift);
        changed();
        return;
      }
    }
    schedule();
  }

  function onUp(ev) {
    drag = null;
    if (canvas.hasPointerCapture(ev.pointerId)) canvas.releasePointerCapture(ev.pointerId);
  }

  function onLeave() {
    hoverX = null;
    schedule();
  }

  function onKey(ev) {
    const span = view.e - view.s;
    const mid = (view.s + view.e) / 2;
    if (ev.key === "+" || ev.key === "=") zoomAt(mid, 0.8);
    else if (ev.key === "-" || ev.key === "_") zoomAt(mid, 1.25);
    else if (ev.key === "ArrowLeft") { view = clamp(view.s - span * 0.1, view.e - span * 0.1); changed(); }
    else if (ev.key === "ArrowRight") { view = clamp(view.s + span * 0.1, view.e + span * 0.1); changed(); }
    else if (ev.key === "Home") { const [x0, x1] = model.get("extent"); view = { s: x0, e: x1 }; changed(); }
    else return;
    ev.preventDefault();
  }

  function onMessage(msg, buffers) {
    if (!msg || msg.type !== "candles") return;
    const packed = f64(buffers && buffers[0]);
    const n = msg.n;
    const col = (k) => packed.subarray(k * n, (k + 1) * n);
    data = {
      n,
      ts: col(0), o: col(1), h: col(2), l: col(3), c: col(4), v: col(5),
      series: msg.columns.slice(6).map((_, k) => col(6 + k)),
      bucket: msg.bucket_ms,
      timeframe: msg.timeframe,
    };
    trades = f64(buffers && buffers[1]);
    const mine = msg.client === client;
    if (mine) inflight.delete(msg.seq);
    if (!mine || msg.adopt) view = { s: msg.start, e: msg.end };
    const t0 = mine ? sentAt.get(msg.seq) : undefined;
    if (mine) sentAt.delete(msg.seq);
    draw();
    root.dataset.start = new Date(msg.start).toISOString();
    root.dataset.end = new Date(msg.end).toISOString();
    root.dataset.candles = String(n);
    root.dataset.timeframe = msg.timeframe;
    if (t0 !== undefined) root.dataset.redrawMs = (performance.now() - t0).toFixed(2);
    status.textContent = `${msg.timeframe} · ${n} candles`;
    if (dirty && canSend()) send();
  }

  const redraw = () => schedule();
  const onHeight = () => resize();
  model.on("msg:custom", onMessage);
  model.on("change:series", redraw);
  model.on("change:highlight", redraw);
  model.on("change:title", redraw);
  model.on("change:chart_height", onHeight);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  canvas.addEventListener("pointerdown", onDown);
  canvas.addEventListener("pointermove", onMove);
  canvas.addEventListener("pointerup", onUp);
  canvas.addEventListener("pointercancel", onUp);
  canvas.addEventListener("pointerleave", onLeave);
  canvas.addEventListener("dblclick", () => { const [x0, x1] = model.get("extent"); view = { s: x0, e: x1 }; changed(); });
  root.addEventListener("keydown", onKey);
  const observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => {
    if (Math.floor(root.clientWidth) !== width) resize();
  });
  if (observer) observer.observe(root);
  resize();
  // ask for the kernel's range and its candles (messages sent before this view existed are
  // lost, and the model's state may not have caught up with the kernel yet)
  pendingSince = performance.now();
  send("hello");

  return () => {
    if (observer) observer.disconnect();
    if (raf) cancelAnimationFrame(raf);
    model.off("msg:custom", onMessage);
    model.off("change:series", redraw);
    model.off("change:highlight", redraw);
    model.off("change:title", redraw);
    model.off("change:chart_height", onHeight);
  };
}

// -- offline: the same view over levels embedded in the page (CandleChart.to_html) --------

// first index i with a[i] > x (a sorted ascending)
function upperBound(a, x) {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function fromBase64(text) {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float64Array(bytes.buffer);
}

// A model that answers zoom requests from the embedded pyramid, as the kernel would:
// the finest level with at most max_candles whole buckets overlapping the range.
function staticModel(payload) {
  const state = { ...payload.state };
  const ncols = payload.columns.length;
  const levels = payload.levels.map((lv) => {
    const data = fromBase64(lv.data);
    return { ...lv, data, ts: data.subarray(0, lv.n) };
  });
  const trades = fromBase64(payload.trades);
  const handlers = [];
  function answer(msg) {
    const hello = msg.type === "hello";
    const start = hello ? state.view[0] : msg.start;
    const end = hello ? state.view[1] : msg.end;
    let pick = levels[levels.length - 1];
    let lo = 0;
    let hi = 0;
    for (const lv of levels) {
      lo = upperBound(lv.ts, start - lv.bucket_ms);
      hi = Math.max(lo, lowerBound(lv.ts, end));
      pick = lv;
      if (hi - lo <= state.max_candles) break;
    }
    const n = hi - lo;
    const packed = new Float64Array(ncols * n);
    for (let k = 0; k < ncols; k++) packed.set(pick.data.subarray(k * pick.n + lo, k * pick.n + hi), k * n);
    const first = Math.min(n ? pick.ts[lo] : start, start);
    const kept = [];
    for (let j = 0; j < trades.length; j += 3) {
      if (trades[j] >= first && trades[j] < end) kept.push(trades[j], trades[j + 1], trades[j + 2]);
    }
    const tr = new Float64Array(kept);
    state.view = [start, end];
    const header = {
      type: "candles", start, end, seq: msg.seq, client: msg.client, adopt: hello,
      timeframe: pick.label, bucket_ms: pick.bucket_ms, n, columns: payload.columns,
      n_trades: tr.length / 3,
    };
    setTimeout(() => {
      for (const cb of handlers) cb(header, [new DataView(packed.buffer), new DataView(tr.buffer)]);
    }, 0);
  }
  return {
    get: (key) => state[key],
    set: (key, value) => { state[key] = value; },
    save_changes: () => {},
    on: (event, cb) => { if (event === "msg:custom") handlers.push(cb); },
    off: () => {},
    send: answer,
  };
}

export function renderStatic(el, payload) {
  return render({ model: staticModel(payload), el });
}

export default { render };
