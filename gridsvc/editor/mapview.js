// The draft on a Leaflet map: grids coloured by bound status, islands dashed, buildings in the
// colour of their grid; events go to the handlers main.js passes in.

const STATUS_FILL = { under: "#5b8def", within: "#3aa564", over: "#e0533d" };
const PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

export function cssId(value) {
  return String(value).replace(/[^A-Za-z0-9_-]/g, "_");
}

function colourOf(code, codes) {
  return PALETTE[codes.indexOf(code) % PALETTE.length];
}

export class MapView {
  constructor(element, handlers) {
    this.handlers = handlers;
    this.map = L.map(element, { zoomSnap: 0.25 });
    this.grids = L.geoJSON(null, { style: (f) => this.gridStyle(f), onEachFeature: (f, l) => this.bindGrid(f, l) });
    this.buildings = L.geoJSON(null, { style: (f) => this.buildingStyle(f), onEachFeature: (f, l) => this.bindBuilding(f, l) });
    this.grids.addTo(this.map);
    this.buildings.addTo(this.map);
    this.owner = {};
    this.codes = [];
    this.selected = null;
    this.locked = new Set();
    this.brushing = false;
    this.map.on("mouseup", () => this.handlers.brushEnd());
    document.addEventListener("mouseup", () => this.handlers.brushEnd());
  }

  gridStyle(feature) {
    const p = feature.properties;
    const classes = ["grid", `g-${cssId(p.code)}`, p.status];
    if (p.islands > 0) classes.push("island");
    if (this.locked.has(p.code)) classes.push("locked");
    return {
      className: classes.join(" "),
      color: p.code === this.selected ? "#000" : p.islands > 0 ? "#b3261e" : "#333",
      weight: p.code === this.selected ? 3 : p.islands > 0 ? 3 : 1.5,
      dashArray: p.islands > 0 ? "6 4" : null,
      fillColor: STATUS_FILL[p.status] || "#999",
      fillOpacity: 0.25,
    };
  }

  buildingStyle(feature) {
    const code = this.owner[feature.properties.id];
    return {
      className: `bldg b-${cssId(feature.properties.id)}`,
      color: code ? colourOf(code, this.codes) : "#999",
      weight: 1,
      fillOpacity: 0.8,
    };
  }

  bindGrid(feature, layer) {
    const p = feature.properties;
    layer.bindTooltip(`${p.code.slice(-3)} · ${p.households}`, { permanent: true, direction: "center", className: "grid-label" });
    layer.on("click", () => this.handlers.gridClicked(p.code));
  }

  bindBuilding(feature, layer) {
    const id = feature.properties.id;
    layer.on("click", (event) => {
      L.DomEvent.stop(event);
      this.handlers.buildingClicked(id);
    });
    layer.on("mousedown", (event) => {
      if (!this.brushing) return;
      L.DomEvent.stop(event);
      this.handlers.brushStart(id);
    });
    layer.on("mouseover", () => {
      if (this.brushing) this.handlers.brushOver(id);
    });
  }

  setBuildings(collection) {
    this.buildings.clearLayers();
    this.buildings.addData(collection);
  }

  // Show a preview answer: grids with their figures and the grid of every building.
  show(view, { fit = false } = {}) {
    this.codes = view.features.map((f) => f.properties.code);
    this.owner = view.buildings;
    this.grids.clearLayers();
    this.grids.addData(view);
    this.buildings.setStyle((f) => this.buildingStyle(f));
    this.buildings.bringToFront();
    if (fit && view.features.length) this.map.fitBounds(this.grids.getBounds());
  }

  restyle() {
    this.grids.setStyle((f) => this.gridStyle(f));
  }

  setBrushing(on) {
    this.brushing = on;
    if (on) this.map.dragging.disable();
    else this.map.dragging.enable();
  }

  layerOf(code) {
    return this.grids.getLayers().find((l) => l.feature.properties.code === code);
  }
}

// The published plan beside the draft, moving with it.
export function publishedMap(element, main) {
  const map = L.map(element, { zoomControl: false });
  const layer = L.geoJSON(null, {
    style: () => ({ color: "#333", weight: 1.5, fillColor: "#bbb", fillOpacity: 0.2, className: "published-grid" }),
    onEachFeature: (f, l) => l.bindTooltip(`${f.properties.code.slice(-3)} · ${f.properties.households}`, { permanent: true, direction: "center", className: "grid-label" }),
  }).addTo(map);
  main.on("move zoom", () => map.setView(main.getCenter(), main.getZoom(), { animate: false }));
  return { map, layer };
}
