// The planner's editor: sign in, open the community's draft, edit it on the map with undo/redo,
// see live counts and violations (a dry run on the server), save with If-Match, publish.

import { ApiError, allFeatures, call, problems, signIn, token } from "./api.js";
import { MapView, publishedMap } from "./mapview.js";
import { Pending } from "./pending.js";

const community = document.body.dataset.community;
const $ = (selector) => document.querySelector(selector);
const state = { plan: null, etag: null, view: null, selected: null, target: null, batch: null, busy: 0, locks: new Map() };
const LOCK_POLL_MS = 3000; // how often the editor looks for other planners' locks
const pending = new Pending(() => refresh());
let view = null;
let published = null;

function say(message, kind = "") {
  $("#status").textContent = message;
  $("#status").className = kind;
}

async function busy(work) {
  state.busy += 1;
  document.body.dataset.busy = "1";
  try {
    return await work();
  } finally {
    state.busy -= 1;
    if (!state.busy) delete document.body.dataset.busy;
  }
}

// --- signing in -----------------------------------------------------------------------------

$("#signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await signIn(form.get("username"), form.get("password"));
    await start();
  } catch (error) {
    $("#signin-error").textContent = error.message;
  }
});

async function start() {
  try {
    state.me = (await call("GET", "/me")).data.username;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      $("#signin").hidden = false;
      return;
    }
    throw error;
  }
  $("#signin").hidden = true;
  $("#editor").hidden = false;
  view = new MapView($("#map"), { gridClicked: selectGrid, buildingClicked, brushStart, brushOver, brushEnd });
  window.gridEditor = { map: view.map, state, pending };
  setInterval(() => pollLocks().catch((error) => say(`Cannot read the locks: ${error.message}`, "error")), LOCK_POLL_MS);
  await busy(async () => {
    try {
      view.setBuildings(await allFeatures(`/buildings?community=${community}&limit=1000`));
      const { data: list } = await call("GET", `/communities/${community}/plans`);
      const drafts = list.filter((p) => p.status === "draft").sort((a, b) => b.id - a.id);
      if (drafts.length) await openPlan(drafts[0].id, { fit: true });
      else noDraft();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(`Cannot open community ${community}: ${error.message}`, "error");
    }
  });
}

function noDraft() {
  state.plan = null;
  $("#new-draft").hidden = false;
  $("#plan-label").textContent = "no draft";
  say("No draft yet: start one to edit the grids.");
  updateButtons();
}

$("#new-draft").addEventListener("click", () =>
  busy(async () => {
    const { data } = await call("POST", `/communities/${community}/plans`, { body: { name: "draft" } });
    pending.clear();
    await openPlan(data.id, { fit: true });
  }),
);

async function openPlan(id, { fit = false } = {}) {
  const { data, etag } = await call("GET", `/plans/${id}`);
  state.plan = data;
  state.etag = etag;
  $("#new-draft").hidden = data.status === "draft";
  $("#plan-label").textContent = `plan ${data.id} (${data.status}, revision ${data.revision})`;
  await refresh({ fit });
}

// --- the dry run: live counts and violations ---------------------------------------------------

// One dry run at a time (each holds the store's write lock until it rolls back); a change made
// meanwhile is folded into one more run, and every caller waits for the run that includes it.
let running = null;
let again = false;

function refresh({ fit = false } = {}) {
  if (!state.plan) return Promise.resolve();
  if (running) {
    again = true;
    return running;
  }
  running = busy(async () => {
    try {
      do {
        again = false;
        await dryRun(fit);
      } while (again);
    } finally {
      running = null;
    }
  });
  return running;
}

async function dryRun(fit) {
  await loadLocks();
  for (;;) {
    try {
      const { data } = await call("POST", `/plans/${state.plan.id}/preview`, { body: { edits: pending.edits } });
      if (!again) render(data, fit); // a later change gets its own run
      return;
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) continue; // a save landed meanwhile
      const refused = error instanceof ApiError && (error.status === 422 || error.status === 423);
      if (!refused || !pending.edits.length) throw error;
      pending.drop();
      say(`Edit refused: ${problems(error).join("; ")}`, "error");
    }
  }
}

function render(data, fit) {
  state.view = data;
  view.locked = locks();
  view.selected = state.selected;
  view.show(data, { fit });
  const rows = data.features.map((f) => {
    const p = f.properties;
    const row = document.createElement("tr");
    row.dataset.grid = p.code;
    row.className = [p.status, p.islands > 0 ? "island" : "", p.code === state.selected ? "selected" : ""].join(" ");
    row.innerHTML = `<td class="code"></td><td class="count"></td><td class="status"></td>`;
    const lock = state.locks.get(p.code);
    row.querySelector(".code").textContent = p.code + (lock ? ` 🔒 ${lock.locked_by}` : "");
    if (lock) row.title = `locked by ${lock.locked_by} since ${lock.locked_at}`;
    row.querySelector(".count").textContent = p.households;
    row.querySelector(".status").textContent = p.status;
    row.addEventListener("click", () => selectGrid(p.code));
    return row;
  });
  $("#grids tbody").replaceChildren(...rows);
  const items = [
    ...data.validation.errors.map((m) => ["error", m]),
    ...data.validation.warnings.map((m) => ["warning", m]),
  ].map(([kind, message]) => {
    const li = document.createElement("li");
    li.className = kind;
    li.textContent = message;
    return li;
  });
  $("#validation").replaceChildren(...items);
  $("#pending-label").textContent = pending.edits.length ? `${pending.edits.length} unsaved edit(s)` : "saved";
  if (state.selected) showGrid(state.selected);
  updateButtons();
}

function updateButtons() {
  const draft = state.plan?.status === "draft";
  $("#undo").disabled = !pending.edits.length;
  $("#redo").disabled = !pending.undone.length;
  $("#save").disabled = !draft || !pending.edits.length;
  $("#publish").disabled = !draft || pending.edits.length > 0;
  $("#grid-actions").querySelectorAll("button, select").forEach((b) => (b.disabled = !draft));
}

// --- grids: select, paint, reshape, split, merge, lock, history ------------------------------

function feature(code) {
  return state.view?.features.find((f) => f.properties.code === code);
}

function selectGrid(code) {
  state.selected = code;
  view.selected = code;
  view.restyle();
  document.querySelectorAll("#grids tr").forEach((r) => r.classList.toggle("selected", r.dataset.grid === code));
  showGrid(code);
}

function showGrid(code) {
  const f = feature(code);
  if (!f) {
    $("#grid-actions").hidden = true;
    state.selected = null;
    return;
  }
  const p = f.properties;
  $("#grid-actions").hidden = false;
  $("#selected-grid").textContent = code;
  $("#selected-figures").textContent = `${p.households} households, ${p.residents} residents, ${p.status}` +
    (p.islands ? `, ${p.islands} island(s)` : "");
  const lock = state.locks.get(code);
  $("#lock").textContent = !lock ? "Lock" : lock.locked_by === state.me ? "Unlock" : `Unlock (held by ${lock.locked_by})`;
  $("#merge-with").replaceChildren(...p.neighbours.map((n) => new Option(n, n)));
  $("#paint").textContent = state.target === code ? "Painting into this grid (click to stop)" : "Paint buildings into this grid";
}

function refuseLocked(codes) {
  const held = [...new Set(codes)].filter((c) => state.locks.has(c));
  if (held.length) {
    const who = held.map((c) => `grid ${c} is locked by ${state.locks.get(c).locked_by}`);
    say(`Not changed: ${who.join("; ")}; unlock it first.`, "error");
  }
  return held.length > 0;
}

$("#paint").addEventListener("click", () => {
  state.target = state.target === state.selected ? null : state.selected;
  say(state.target ? `Click or brush buildings to move them into grid ${state.target}.` : "");
  showGrid(state.selected);
});

function move(buildings) {
  const target = state.target;
  const moving = [...new Set(buildings)].filter((b) => state.view.buildings[b] && state.view.buildings[b] !== target);
  if (!moving.length || refuseLocked([target, ...moving.map((b) => state.view.buildings[b])])) return;
  pending.push({ op: "reassign", to: target, buildings: moving });
}

function buildingClicked(id) {
  if (!state.target) {
    const code = state.view?.buildings[id];
    if (code) selectGrid(code);
    return;
  }
  move([id]);
}

function brushStart(id) {
  if (state.target) state.batch = [id];
}

function brushOver(id) {
  if (state.batch) state.batch.push(id);
}

function brushEnd() {
  const batch = state.batch;
  state.batch = null;
  if (batch) move(batch);
}

$("#brush").addEventListener("change", (event) => view.setBrushing(event.target.checked));

$("#edit-shape").addEventListener("click", () => {
  const code = state.selected;
  if (refuseLocked([code])) return;
  const layer = view.layerOf(code);
  layer.pm.enable({ allowSelfIntersection: false });
  say(`Drag the vertices of grid ${code}; each drag is one edit.`);
  layer.on("pm:edit", () => {
    layer.pm.disable();
    // full precision: Leaflet rounds to 6 decimals by default, which would open seams
    pending.push({ op: "redraw", grid: code, geometry: layer.toGeoJSON(false).geometry });
  });
});

$("#split").addEventListener("click", () => {
  const code = state.selected;
  if (refuseLocked([code])) return;
  say(`Draw a line across grid ${code}; finish on its last point.`);
  view.map.pm.enableDraw("Line");
  view.map.once("pm:create", (event) => {
    const line = event.layer.toGeoJSON(false).geometry;
    event.layer.remove();
    pending.push({ op: "split", grid: code, line });
  });
});

$("#merge").addEventListener("click", () => {
  const other = $("#merge-with").value;
  if (!other || refuseLocked([state.selected, other])) return;
  pending.push({ op: "merge", grids: [state.selected, other] });
});

// Locks live in the store: every planner sees them, and the server refuses other planners'
// edits of a locked grid. They are read with every dry run and every few seconds.
function locks() {
  return new Set(state.locks.keys());
}

async function loadLocks() {
  if (!state.plan) return false;
  const { data } = await call("GET", `/plans/${state.plan.id}/locks`);
  const before = JSON.stringify([...state.locks.values()]);
  state.locks = new Map(data.map((lock) => [lock.grid, lock]));
  return JSON.stringify(data) !== before;
}

async function pollLocks() {
  if (!state.plan || state.busy || !state.view || document.hidden) return;
  if (await loadLocks()) render(state.view, false);
}

$("#lock").addEventListener("click", () =>
  busy(async () => {
    const code = state.selected;
    const held = state.locks.has(code);
    try {
      await call(held ? "DELETE" : "PUT", `/plans/${state.plan.id}/locks/${code}`);
      say(held ? `Grid ${code} unlocked.` : `Grid ${code} locked.`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(problems(error).join("; "), "error");
    }
    await loadLocks();
    render(state.view, false);
  }),
);

$("#history").addEventListener("click", () =>
  busy(async () => {
    const code = state.selected;
    const { data } = await call("GET", `/plans/${state.plan.id}/grids/${code}/history`);
    const items = data.map((v) => {
      const li = document.createElement("li");
      li.textContent = `version ${v.version}${v.current ? " (current)" : ""}: ${v.households.length} households` +
        (v.edit ? `, edit ${v.edit}` : "");
      if (!v.current && v.geometry) {
        const button = document.createElement("button");
        button.textContent = "Revert to this";
        button.addEventListener("click", () => pending.push({ op: "revert", grid: code, version: v.version }));
        li.append(" ", button);
      }
      return li;
    });
    $("#history-list").replaceChildren(...items);
  }),
);

$("#fix").addEventListener("click", () =>
  busy(async () => {
    if (pending.edits.length) {
      say("Save or undo your edits before asking for a fix.", "error");
      return;
    }
    try {
      // the server leaves every locked grid alone
      const { etag } = await call("POST", `/plans/${state.plan.id}/grids/${state.selected}/fix`, {
        body: {},
        etag: state.etag,
      });
      state.etag = etag;
      await openPlan(state.plan.id);
      say(`Grid ${state.selected} rebalanced with its neighbours.`);
    } catch (error) {
      await failed(error);
    }
  }),
);

// --- undo, redo, save, conflicts, publish --------------------------------------------------------

$("#undo").addEventListener("click", () => pending.undo());
$("#redo").addEventListener("click", () => pending.redo());
document.addEventListener("keydown", (event) => {
  if (!(event.ctrlKey || event.metaKey) || !state.plan) return;
  if (event.key === "z") pending.undo();
  if (event.key === "y") pending.redo();
});

async function failed(error) {
  if (error instanceof ApiError && error.status === 412) {
    const { data } = await call("GET", `/plans/${state.plan.id}/changes?since=${state.plan.revision}`);
    const items = data.map((entry) => {
      const li = document.createElement("li");
      const changed = entry.after?.changed?.length ? `: grids ${entry.after.changed.join(", ")}` : "";
      const removed = entry.after?.removed?.length ? `; removed ${entry.after.removed.join(", ")}` : "";
      li.textContent = `${entry.user} — ${entry.action} at ${entry.at}${changed}${removed}`;
      return li;
    });
    $("#conflict-list").replaceChildren(...items);
    $("#conflict").hidden = false;
    say("Not saved: the plan changed since you opened it.", "error");
    return;
  }
  if (error instanceof ApiError) {
    say(`Not saved: ${problems(error).join("; ")}`, "error");
    if (error.status === 423 && (await loadLocks())) render(state.view, false); // show who holds it
    return;
  }
  throw error;
}

$("#save").addEventListener("click", () =>
  busy(async () => {
    await running; // save what the screen shows, after its dry run
    try {
      while (pending.edits.length) {
        const { data, etag } = await call("POST", `/plans/${state.plan.id}/edits`, {
          body: pending.edits[0],
          etag: state.etag,
        });
        state.etag = etag;
        state.plan = data.plan;
        pending.saved(1);
      }
      pending.undone = [];
      await openPlan(state.plan.id);
      say("Saved.");
    } catch (error) {
      await failed(error);
      updateButtons();
    }
  }),
);

$("#rebase").addEventListener("click", () =>
  busy(async () => {
    await openPlan(state.plan.id);
    $("#conflict").hidden = true; // only now: saving before the reload would be stale again
    say("Reloaded; your unsaved edits are applied on top of the saved plan.");
  }),
);

$("#publish").addEventListener("click", () =>
  busy(async () => {
    try {
      await call("POST", `/plans/${state.plan.id}/publish`, { body: {}, etag: state.etag });
      await openPlan(state.plan.id);
      if (published) await loadPublished();
      say("Published.");
    } catch (error) {
      await failed(error);
    }
  }),
);

// --- side by side with the published plan --------------------------------------------------------

async function loadPublished() {
  const { data } = await call("GET", `/communities/${community}/grids?level=1`);
  published.layer.clearLayers();
  published.layer.addData(data);
}

$("#compare").addEventListener("click", () =>
  busy(async () => {
    const on = $("#published-map").hidden;
    $("#published-map").hidden = !on;
    $("#compare").setAttribute("aria-pressed", String(on));
    view.map.invalidateSize();
    if (on) {
      if (!published) published = publishedMap($("#published-map"), view.map);
      published.map.invalidateSize();
      published.map.setView(view.map.getCenter(), view.map.getZoom(), { animate: false });
      await loadPublished();
    }
  }),
);

if (token()) start();
else $("#signin").hidden = false;
