// morpho review: one film at a time on a canvas (zoom, pan, drag the six points); every
// action is sent to the local server, which logs it and returns the film re-measured.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const POINTS = ["ant_sup", "mid_sup", "post_sup", "post_inf", "mid_inf", "ant_inf"];
const HIT_PX = 9; // a point within this many screen pixels is under the mouse

const $ = (id) => document.getElementById(id);
const canvas = $("film");
const ctx = canvas.getContext("2d");
const state = { films: [], levels: [], film: null, selected: -1, img: null,
                view: { scale: 1, ox: 0, oy: 0 }, drag: null, busy: false };
window.morphoReview = state; // for tests and the curious

async function api(path, body) {
  const options = { headers: { "X-Morpho-Token": TOKEN } };
  if (body) {
    Object.assign(options, { method: "POST", body: JSON.stringify(body) });
    options.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function gradeClass(grade) { return grade === null || grade === undefined ? "gx" : "g" + grade; }
function colour(body) {
  const colours = state.colours;  // morpho.domain's, from /api/films
  return body.genant_grade === null ? colours.ungraded : colours[body.genant_grade];
}
function label(body) {
  const name = body.level || "#" + body.index;
  return body.genant_grade ? `${name} G${body.genant_grade}` : name;
}

// --- the film list -------------------------------------------------------------------
async function loadFilms() {
  const data = await api("/api/films");
  state.films = data.films;
  state.levels = data.levels;
  state.colours = data.colours;
  $("level").innerHTML = '<option value="">level…</option>' +
    data.levels.map((l) => `<option>${l}</option>`).join("");
  $("reader").value = localStorage.getItem("morpho-reader") || data.reader || "";
  renderFilms();
}

function renderFilms() {
  const current = state.film && state.film.file;
  $("films").innerHTML = "";
  state.films.forEach((f) => {
    const li = document.createElement("li");
    li.className = f.file === current ? "current" : "";
    li.dataset.file = f.file;
    const grade = f.worst_grade === null ? "–" : "G" + f.worst_grade;
    li.innerHTML = `<span></span><span class="badge ${gradeClass(f.worst_grade)}">${grade}</span>`;
    li.firstChild.textContent = (f.corrected ? "* " : "") + f.image;
    li.onclick = () => openFilm(f.file);
    $("films").appendChild(li);
  });
}

async function openFilm(file) {
  const film = await api("/api/film?file=" + encodeURIComponent(file));
  const img = new Image();
  img.src = `/api/image?token=${encodeURIComponent(TOKEN)}&file=${encodeURIComponent(file)}`;
  await img.decode();
  Object.assign(state, { film, img, selected: film.bodies.length ? 0 : -1 });
  history.replaceState(null, "", `?token=${encodeURIComponent(TOKEN)}#${encodeURIComponent(file)}`);
  fit();
  render();
  renderFilms();
}

// --- drawing -------------------------------------------------------------------------
function resize() {
  const box = canvas.getBoundingClientRect();
  canvas.width = Math.max(1, Math.round(box.width));
  canvas.height = Math.max(1, Math.round(box.height));
}

function fit() {
  resize();
  if (!state.film) return;
  const scale = Math.min(canvas.width / state.film.width, canvas.height / state.film.height);
  state.view = { scale, ox: (canvas.width - scale * state.film.width) / 2,
                 oy: (canvas.height - scale * state.film.height) / 2 };
}

function toScreen([x, y]) {
  const v = state.view;
  return [v.ox + (x + 0.5) * v.scale, v.oy + (y + 0.5) * v.scale];
}
function toImage([sx, sy]) {
  const v = state.view;
  return [(sx - v.ox) / v.scale - 0.5, (sy - v.oy) / v.scale - 0.5];
}
state.toScreen = toScreen;

function drawBody(body, selected) {
  const pts = POINTS.map((p) => body.points[p]).filter((p) => p[0] !== null && p[1] !== null);
  if (!pts.length) return;
  const screen = pts.map(toScreen);
  ctx.strokeStyle = ctx.fillStyle = colour(body);
  ctx.lineWidth = selected ? 3 : 1.5;
  ctx.setLineDash(body.review === "not gradable" ? [6, 4] : []);
  ctx.beginPath();
  screen.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  ctx.closePath();
  ctx.stroke();
  ctx.setLineDash([]);
  for (const name of ["ant", "mid", "post"]) { // the three heights
    const [a, b] = [body.points[name + "_sup"], body.points[name + "_inf"]];
    if (a[0] === null || b[0] === null) continue;
    ctx.beginPath();
    ctx.moveTo(...toScreen(a));
    ctx.lineTo(...toScreen(b));
    ctx.stroke();
  }
  screen.forEach(([x, y]) => {
    ctx.beginPath();
    ctx.arc(x, y, selected ? 5 : 3, 0, 2 * Math.PI);
    ctx.fill();
  });
  drawLabel(body, screen);
}

function drawLabel(body, screen) {
  const right = state.film.facing !== "right"; // the label on the posterior side
  const xs = screen.map((p) => p[0]);
  const y = screen.reduce((s, p) => s + p[1], 0) / screen.length;
  const x = right ? Math.max(...xs) + 10 : Math.min(...xs) - 10;
  const mark = body.review === "accepted" ? " ✓" : body.review === "not gradable" ? " ✗" : "";
  ctx.font = "bold 15px system-ui, sans-serif";
  ctx.textAlign = right ? "left" : "right";
  ctx.textBaseline = "middle";
  ctx.lineWidth = 4;
  ctx.strokeStyle = "#000";
  ctx.strokeText(label(body) + mark, x, y);
  ctx.fillText(label(body) + mark, x, y);
}

function render() {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!state.film) return;
  const v = state.view;
  ctx.imageSmoothingEnabled = v.scale < 2;
  ctx.drawImage(state.img, v.ox, v.oy, v.scale * state.film.width, v.scale * state.film.height);
  state.film.bodies.forEach((b, i) => i !== state.selected && drawBody(b, false));
  if (state.selected >= 0) drawBody(state.film.bodies[state.selected], true);
  renderTable();
}

function fmt(value, digits) { return value === null ? "–" : value.toFixed(digits); }

function renderTable() {
  const film = state.film;
  const mm = film.bodies.some((b) => b.hp_mm !== null);
  $("title").textContent = film.image;
  $("facing").textContent = film.facing || "?";
  $("units").textContent = `Heights in ${mm ? "mm" : "px"}; * corrected by a reader.`;
  const rows = film.bodies.map((b, i) => {
    const h = (k) => fmt(mm ? b[k + "_mm"] : b[k + "_px"], 1);
    const read = b.review === "accepted" ? "✓" : b.review === "not gradable" ? "✗" : "";
    const grade = b.genant_grade === null ? "–" : b.genant_grade;
    return `<tr data-i="${i}" class="${i === state.selected ? "selected" : ""}` +
      `${b.corrected ? " corrected" : ""}"><td>${b.level || "#" + b.index}</td>` +
      `<td>${h("ha")}</td><td>${h("hm")}</td><td>${h("hp")}</td>` +
      `<td>${fmt(b.wedge_ratio, 2)}</td><td>${fmt(b.biconcave_ratio, 2)}</td>` +
      `<td>${fmt(b.crush_ratio, 2)}</td><td><span class="badge ${gradeClass(b.genant_grade)}">` +
      `${grade}</span></td><td>${b.genant_type}</td><td>${read}</td></tr>`;
  });
  $("bodies").tBodies[0].innerHTML = rows.join("");
  const body = film.bodies[state.selected];
  $("level").value = (body && body.level) || "";
  $("qa").textContent = body ? `${label(body)}: ${body.qa || "no notes"}` : "";
}

// --- corrections ---------------------------------------------------------------------
async function correct(change, what) {
  if (!state.film || state.busy) return;
  state.busy = true;
  const reader = $("reader").value.trim();
  localStorage.setItem("morpho-reader", reader);
  try {
    state.film = await api("/api/correct", { file: state.film.file, reader, ...change });
    render();
    state.films = (await api("/api/films")).films;
    renderFilms();
    status("saved: " + what);
  } catch (error) {
    status(error.message, true);
  } finally {
    state.busy = false;
    render();
  }
}

function selectedBody() { return state.film && state.film.bodies[state.selected]; }

function mark(action, what) {
  const body = selectedBody();
  if (body) correct({ action, index: body.index }, `${label(body)} ${what}`);
}

function rename() {
  const body = selectedBody();
  const level = $("level").value;
  if (!level) { status("choose a level first (L)", true); return; }
  if (body) correct({ action: "level", index: body.index, value: level },
                    `levels from ${level} down`);
}

function flip() {
  if (state.film) {
    const facing = state.film.facing === "right" ? "left" : "right";
    correct({ action: "facing", value: facing }, "anterior on the " + facing);
  }
}

// --- mouse and keys ------------------------------------------------------------------
function pointAt(sx, sy) {
  const order = [state.selected, ...state.film.bodies.keys()].filter((i) => i >= 0);
  for (const i of order) {
    for (const p of POINTS) {
      const xy = state.film.bodies[i].points[p];
      if (xy[0] === null) continue;
      const [px, py] = toScreen(xy);
      if (Math.hypot(px - sx, py - sy) <= HIT_PX) return { body: i, point: p };
    }
  }
  return null;
}

function bodyAt(sx, sy) {
  const [x, y] = toImage([sx, sy]);
  let best = -1, distance = Infinity;
  state.film.bodies.forEach((b, i) => {
    const d = Math.hypot(b.cx - x, b.cy - y);
    if (d < distance) [best, distance] = [i, d];
  });
  return best;
}

canvas.addEventListener("mousedown", (e) => {
  if (!state.film) return;
  const hit = pointAt(e.offsetX, e.offsetY);
  if (hit) state.selected = hit.body;
  state.drag = { hit, x: e.offsetX, y: e.offsetY, moved: false };
  canvas.focus();
  render();
});

canvas.addEventListener("mousemove", (e) => {
  const drag = state.drag;
  if (!drag) return;
  const [dx, dy] = [e.offsetX - drag.x, e.offsetY - drag.y];
  drag.moved = drag.moved || Math.hypot(dx, dy) > 2;
  if (drag.hit) {
    const xy = toImage([e.offsetX, e.offsetY]);
    state.film.bodies[drag.hit.body].points[drag.hit.point] = xy;
  } else {
    state.view.ox += dx;
    state.view.oy += dy;
    [drag.x, drag.y] = [e.offsetX, e.offsetY];
  }
  render();
});

window.addEventListener("mouseup", (e) => {
  const drag = state.drag;
  state.drag = null;
  if (!drag || !state.film) return;
  if (drag.hit && drag.moved) {
    const body = state.film.bodies[drag.hit.body];
    const [x, y] = body.points[drag.hit.point];
    correct({ action: "point", index: body.index, point: drag.hit.point,
              x: Math.round(x * 100) / 100, y: Math.round(y * 100) / 100 },
            `${label(body)} ${drag.hit.point} moved`);
  } else if (!drag.moved && e.target === canvas) {
    state.selected = bodyAt(e.offsetX, e.offsetY);
    render();
  }
});

function zoom(factor, sx = canvas.width / 2, sy = canvas.height / 2) {
  const v = state.view;
  v.ox = sx - (sx - v.ox) * factor;
  v.oy = sy - (sy - v.oy) * factor;
  v.scale *= factor;
  render();
}

canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  zoom(Math.exp(-e.deltaY * 0.0015), e.offsetX, e.offsetY);
}, { passive: false });
canvas.addEventListener("dblclick", () => { fit(); render(); });

function step(list, current, by) {
  return Math.min(list.length - 1, Math.max(0, current + by));
}

function nextFilm(by) {
  const i = state.films.findIndex((f) => state.film && f.file === state.film.file);
  const next = state.films[step(state.films, i, by)];
  if (next) openFilm(next.file);
}

const KEYS = {
  j: () => { state.selected = step(state.film.bodies, state.selected, 1); render(); },
  k: () => { state.selected = step(state.film.bodies, state.selected, -1); render(); },
  n: () => nextFilm(1), p: () => nextFilm(-1),
  a: () => mark("accept", "accepted"), g: () => mark("not_gradable", "not gradable"),
  u: () => mark("clear", "mark cleared"), f: flip,
  l: () => $("level").focus(),
  "0": () => { fit(); render(); }, "+": () => zoom(1.25), "=": () => zoom(1.25),
  "-": () => zoom(0.8),
};
KEYS.ArrowDown = KEYS.j;
KEYS.ArrowUp = KEYS.k;

document.addEventListener("keydown", (e) => {
  const tag = e.target.tagName;
  if (tag === "SELECT" && e.key === "Enter") { rename(); canvas.focus(); return; }
  if (tag === "INPUT" || tag === "SELECT" || e.ctrlKey || e.metaKey || e.altKey) return;
  const action = KEYS[e.key.length === 1 ? e.key.toLowerCase() : e.key];
  if (action && state.film) { e.preventDefault(); action(); }
});

$("bodies").addEventListener("click", (e) => {
  const row = e.target.closest("tr[data-i]");
  if (row) { state.selected = Number(row.dataset.i); render(); }
});
$("accept").onclick = () => mark("accept", "accepted");
$("ungradable").onclick = () => mark("not_gradable", "not gradable");
$("clear").onclick = () => mark("clear", "mark cleared");
$("rename").onclick = rename;
$("flip").onclick = flip;
$("fit").onclick = () => { fit(); render(); };
window.addEventListener("resize", () => { fit(); render(); });

(async () => {
  try {
    await loadFilms();
    const wanted = decodeURIComponent(location.hash.slice(1));
    const first = state.films.find((f) => f.file === wanted) || state.films[0];
    if (first) await openFilm(first.file);
    else status("no measured films in this run", true);
    state.ready = true;
  } catch (error) {
    status(error.message, true);
  }
})();
