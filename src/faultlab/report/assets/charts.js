/* faultlab report charts: dependency-free SVG time series on one shared time axis.
 * Reads the JSON in <script id="report-data">, draws every <div class="chart" data-chart=ID>.
 * Hover: values at that second (crosshair on every chart). Drag: zoom every chart to the
 * selected seconds. Double-click or "Reset zoom": whole run. Legend entries toggle series.
 * Text from files is only ever set with textContent (never parsed as HTML). */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var domain = [data.domain[0], data.domain[1]];
  var view = [domain[0], domain[1]];
  var charts = [];
  var M = { l: 56, r: 12, t: 20, b: 24 };

  function el(tag, attrs, parent, text) {
    var node = document.createElementNS(NS, tag);
    for (var k in attrs) { if (attrs[k] !== undefined) node.setAttribute(k, attrs[k]); }
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function fmt(unit, v) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    if (v === 0) return "0";
    if (unit === "s") {
      if (v < 0.001) return (v * 1000).toFixed(2) + " ms";
      if (v < 1) return (v * 1000).toFixed(v < 0.01 ? 1 : 0) + " ms";
      return v.toFixed(v < 10 ? 2 : 1) + " s";
    }
    if (unit === "ratio") return (v * 100).toFixed(v > 0.99 && v < 1 ? 2 : 1) + "%";
    return (Math.round(v * 10) / 10).toString() + (unit === "rps" ? "/s" : "");
  }
  function fmtTime(t) {
    if (domain[1] - domain[0] <= 120) return (Math.round(t * 10) / 10) + "s";
    var m = Math.floor(t / 60), s = Math.round(t - m * 60);
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  function niceStep(span, n) {
    var raw = span / Math.max(1, n), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  }
  function timeStep(span, n) {
    // Minutes read best in steps of whole seconds and minutes (0:30, 1:00), not 0:50.
    var raw = span / Math.max(1, n), steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    if (domain[1] - domain[0] <= 120) return niceStep(span, n);
    for (var i = 0; i < steps.length; i++) { if (steps[i] >= raw) return steps[i]; }
    return niceStep(span, n);
  }
  function ticks(lo, hi, n, time) {
    if (!(hi > lo)) return [lo];
    var step = time ? timeStep(hi - lo, n) : niceStep(hi - lo, n), out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.round(v / step) * step);
    }
    return out;
  }

  function Chart(host, spec) {
    this.host = host; this.spec = spec; this.hidden = {};
    host.innerHTML = "";
    if (spec.kind !== "timeline") this.legend(host);
    this.box = document.createElement("div"); this.box.className = "chart-box";
    host.appendChild(this.box);
    this.tip = document.createElement("div"); this.tip.className = "tip";
    this.box.appendChild(this.tip);
  }
  Chart.prototype.legend = function (host) {
    var self = this, lg = document.createElement("div");
    lg.className = "legend";
    this.spec.series.forEach(function (s, i) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "lg"; b.setAttribute("aria-pressed", "true");
      var sw = document.createElement("span"); sw.className = "sw" + (s.dash ? " dash" : "");
      sw.style.borderColor = s.color; b.appendChild(sw);
      b.appendChild(document.createTextNode(s.name));
      b.addEventListener("click", function () {
        self.hidden[i] = !self.hidden[i];
        b.setAttribute("aria-pressed", self.hidden[i] ? "false" : "true");
        self.draw();
      });
      lg.appendChild(b);
    });
    (this.spec.thresholds || []).forEach(function (t) {
      var s = document.createElement("span"); s.className = "lg thr";
      var sw = document.createElement("span"); sw.className = "sw dash thr-sw";
      s.appendChild(sw); s.appendChild(document.createTextNode("SLO " + t.label));
      lg.appendChild(s);
    });
    host.appendChild(lg);
  };
  Chart.prototype.yrange = function () {
    var s = this.spec, self = this;
    if (s.unit !== "ratio") return [0, this.ymax()];
    // Ratios: zoom in when every value is near the top, so 99% and 100% stay apart.
    var lo = 1;
    s.series.forEach(function (ser, i) {
      if (self.hidden[i]) return;
      ser.values.forEach(function (v) { if (v !== null && v < lo) lo = v; });
    });
    (s.thresholds || []).forEach(function (t) { if (t.value < lo) lo = t.value; });
    lo = Math.max(0, lo - Math.max(0.005, (1 - lo) * 0.6));
    lo = lo < 0.5 ? 0 : Math.floor(lo * 200) / 200;
    return [lo, 1 + (1 - lo) * 0.04];
  };
  Chart.prototype.ymax = function () {
    var s = this.spec;
    if (s.ymax) return s.ymax;
    var m = 0, self = this;
    s.series.forEach(function (ser, i) {
      if (self.hidden[i]) return;
      ser.values.forEach(function (v) { if (v !== null && v > m) m = v; });
    });
    (s.thresholds || []).forEach(function (t) { if (t.value > m) m = t.value; });
    return m > 0 ? m * 1.08 : 1;
  };
  Chart.prototype.draw = function () {
    var s = this.spec, self = this;
    var W = Math.max(320, this.box.clientWidth || 800);
    var phaseRow = (data.phases || []).length ? 1 : 0;
    var H = s.kind === "timeline" ? M.t + M.b + 22 * (s.rows.length + phaseRow) + 4 : (s.height || 210);
    if (this.svg) this.box.removeChild(this.svg);
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img",
                          "aria-label": s.title, preserveAspectRatio: "none" });
    this.box.insertBefore(svg, this.tip);
    this.svg = svg; this.W = W; this.H = H;
    var pw = W - M.l - M.r, ph = H - M.t - M.b;
    var X = function (t) { return M.l + (t - view[0]) / (view[1] - view[0]) * pw; };
    this.X = X; this.invX = function (px) { return view[0] + (px - M.l) / pw * (view[1] - view[0]); };
    var clipId = "clip-" + s.id;
    el("rect", { x: M.l, y: M.t, width: pw, height: ph }, el("clipPath", { id: clipId }, el("defs", {}, svg)));
    var plot = el("g", { "clip-path": "url(#" + clipId + ")" }, svg);
    var labelEnds = [];  // right edge of the last label on each row: labels never overlap
    (data.bands || []).forEach(function (b) {
      var x0 = X(b.start), x1 = X(b.end);
      el("rect", { x: x0, y: M.t, width: Math.max(1, x1 - x0), height: ph, "class": "band" }, plot);
      if (s.kind === "timeline") return;
      var row = 0;
      while (row < labelEnds.length && labelEnds[row] > x0 + 4) row++;
      labelEnds[row] = x0 + 4 + b.label.length * 6.2 + 8;
      el("text", { x: x0 + 4, y: M.t + 12 + row * 13, "class": "band-label" }, plot, b.label);
    });
    (data.phases || []).forEach(function (p) {
      if (p.t > view[0] && p.t < view[1]) el("line", { x1: X(p.t), x2: X(p.t), y1: M.t, y2: M.t + ph, "class": "phase-line" }, plot);
    });
    ticks(view[0], view[1], Math.max(3, Math.floor(pw / 90)), true).forEach(function (t) {
      el("line", { x1: X(t), x2: X(t), y1: M.t + ph, y2: M.t + ph + 4, "class": "axis" }, svg);
      el("text", { x: X(t), y: H - 6, "class": "tick", "text-anchor": "middle" }, svg, fmtTime(t));
    });
    el("line", { x1: M.l, x2: M.l + pw, y1: M.t + ph, y2: M.t + ph, "class": "axis" }, svg);
    if (s.kind === "timeline") { this.drawTimeline(plot, X); this.overlay(pw, ph); return; }
    var yr = this.yrange(), ymin = yr[0], ymax = yr[1];
    var Y = function (v) { return M.t + ph - (v - ymin) / (ymax - ymin) * ph; };
    ticks(ymin, s.unit === "ratio" ? 1 : ymax, Math.max(2, Math.floor(ph / 35))).forEach(function (v) {
      if (v > ymax || v < ymin) return;
      el("line", { x1: M.l, x2: M.l + pw, y1: Y(v), y2: Y(v), "class": "grid" }, svg);
      el("text", { x: M.l - 6, y: Y(v) + 4, "class": "tick", "text-anchor": "end" }, svg, fmt(s.unit, v));
    });
    (s.thresholds || []).forEach(function (t) {
      if (t.value > ymax || t.value < ymin) return;
      el("line", { x1: M.l, x2: M.l + pw, y1: Y(t.value), y2: Y(t.value), "class": "threshold" }, svg);
      el("text", { x: M.l + pw - 4, y: Y(t.value) - 4, "class": "thr-label", "text-anchor": "end" }, svg, "SLO " + t.label);
    });
    var points = 0;
    s.series.forEach(function (ser, i) {
      if (self.hidden[i]) return;
      var d = "", pen = false;
      for (var k = 0; k < s.x.length; k++) {
        var v = ser.values[k], t = s.x[k];
        if (v === null || t < view[0] - 1 || t > view[1] + 1) { pen = false; continue; }
        d += (pen ? "L" : "M") + X(t).toFixed(1) + "," + Y(Math.max(ymin, Math.min(v, ymax))).toFixed(1);
        pen = true; points++;
      }
      if (d) el("path", { d: d, "class": "line", stroke: ser.color, "stroke-dasharray": ser.dash ? "5 3" : undefined, "stroke-width": ser.width || 1.8 }, plot);
    });
    this.Y = Y; this.points = points;
    this.host.setAttribute("data-points", String(points));
    this.overlay(pw, ph);
  };
  Chart.prototype.drawTimeline = function (plot, X) {
    var s = this.spec, n = 0, ph = data.phases || [], off = ph.length ? 1 : 0;
    ph.forEach(function (p, i) {
      var end = i + 1 < ph.length ? ph[i + 1].t : domain[1], x0 = X(p.t), x1 = X(end);
      el("rect", { x: x0 + 1, y: M.t + 6, width: Math.max(1, x1 - x0 - 2), height: 12, "class": "phase-seg" }, plot);
      el("text", { x: x0 + 5, y: M.t + 16, "class": "phase-label" }, plot, "phase: " + p.label);
    });
    s.rows.forEach(function (r, i) {
      var y = M.t + 4 + (i + off) * 22;
      if (r.lease_end !== null && r.lease_end !== undefined && r.start !== null) {
        el("line", { x1: X(r.start), x2: X(r.lease_end), y1: y + 9, y2: y + 9, "class": "lease" }, plot);
      }
      if (r.start !== null) {
        var x0 = X(r.start), x1 = X(r.end);
        el("rect", { x: x0, y: y + 2, width: Math.max(2, x1 - x0), height: 14, rx: 3, "class": "bar " + r.cls }, plot);
        // Inside the bar when it fits, else just after it, in dark text.
        var inside = r.label.length * 6.4 + 10 < x1 - x0;
        el("text", { x: inside ? x0 + 5 : x1 + 5, y: y + 13, "class": inside ? "bar-label" : "bar-label out" }, plot, r.label);
        n++;
      }
    }, this);
    this.host.setAttribute("data-points", String(n));
  };
  Chart.prototype.overlay = function (pw, ph) {
    var self = this;
    var ov = el("rect", { x: M.l, y: M.t, width: pw, height: ph, "class": "overlay" }, this.svg);
    this.cross = el("line", { y1: M.t, y2: M.t + ph, "class": "cross", visibility: "hidden" }, this.svg);
    this.sel = el("rect", { y: M.t, height: ph, "class": "selection", visibility: "hidden" }, this.svg);
    var start = null;
    var toSvg = function (ev) {
      var r = self.svg.getBoundingClientRect();
      return (ev.clientX - r.left) * self.W / r.width;
    };
    ov.addEventListener("mousemove", function (ev) {
      var px = toSvg(ev);
      charts.forEach(function (c) { c.hover(c.X ? c.X(self.invX(px)) : px, c === self); });
      if (start !== null) {
        self.sel.setAttribute("x", Math.min(start, px)); self.sel.setAttribute("width", Math.abs(px - start));
        self.sel.setAttribute("visibility", "visible");
      }
    });
    ov.addEventListener("mouseleave", function () { charts.forEach(function (c) { c.hover(null, false); }); });
    ov.addEventListener("mousedown", function (ev) { start = toSvg(ev); ev.preventDefault(); });
    ov.addEventListener("mouseup", function (ev) {
      var px = toSvg(ev), a = start; start = null;
      self.sel.setAttribute("visibility", "hidden");
      if (a !== null && Math.abs(px - a) > 6) {
        var t0 = self.invX(Math.min(a, px)), t1 = self.invX(Math.max(a, px));
        setView(Math.max(domain[0], t0), Math.min(domain[1], t1));
      }
    });
    ov.addEventListener("dblclick", function () { setView(domain[0], domain[1]); });
  };
  Chart.prototype.hover = function (px, own) {
    if (!this.cross) return;
    if (px === null || px < M.l || px > this.W - M.r) {
      this.cross.setAttribute("visibility", "hidden"); this.tip.style.display = "none"; return;
    }
    this.cross.setAttribute("x1", px); this.cross.setAttribute("x2", px);
    this.cross.setAttribute("visibility", "visible");
    var s = this.spec;
    if (!own || s.kind === "timeline") { this.tip.style.display = "none"; return; }
    var t = this.invX(px), k = Math.floor(t);
    if (k < 0 || k >= s.x.length) { this.tip.style.display = "none"; return; }
    this.tip.textContent = "";
    var head = document.createElement("div"); head.className = "tip-head";
    head.textContent = "second " + k + " (" + k + "–" + (k + 1) + "s)";
    this.tip.appendChild(head);
    var self = this;
    s.series.forEach(function (ser, i) {
      if (self.hidden[i]) return;
      var row = document.createElement("div");
      var sw = document.createElement("span"); sw.className = "sw"; sw.style.borderColor = ser.color;
      row.appendChild(sw); row.appendChild(document.createTextNode(ser.name + ": " + fmt(s.unit, ser.values[k])));
      self.tip.appendChild(row);
    });
    var frac = px / this.W;
    this.tip.style.display = "block";
    this.tip.style.left = frac > 0.6 ? "" : (frac * 100 + 2) + "%";
    this.tip.style.right = frac > 0.6 ? ((1 - frac) * 100 + 2) + "%" : "";
  };

  function setView(t0, t1) {
    view = [t0, t1];
    var zoomed = t0 > domain[0] || t1 < domain[1];
    document.querySelectorAll(".reset-zoom").forEach(function (b) { b.hidden = !zoomed; });
    document.querySelectorAll(".zoom-range").forEach(function (n) {
      n.textContent = zoomed ? "showing " + fmtTime(t0) + " – " + fmtTime(t1) : "";
    });
    charts.forEach(function (c) { c.draw(); });
  }

  var specs = {};
  data.charts.forEach(function (c) { specs[c.id] = c; });
  document.querySelectorAll(".chart[data-chart]").forEach(function (host) {
    var spec = specs[host.getAttribute("data-chart")];
    if (spec) charts.push(new Chart(host, spec));
  });
  document.querySelectorAll(".reset-zoom").forEach(function (b) {
    b.addEventListener("click", function () { setView(domain[0], domain[1]); });
  });
  charts.forEach(function (c) { c.draw(); });
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer); timer = setTimeout(function () { charts.forEach(function (c) { c.draw(); }); }, 120);
  });
  window.faultlabReport = { ready: true, charts: charts.map(function (c) {
    return { id: c.spec.id, title: c.spec.title, points: Number(c.host.getAttribute("data-points") || 0) };
  }) };
  document.documentElement.setAttribute("data-ready", "1");
})();
