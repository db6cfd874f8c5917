// The interactive lineage graph: Cytoscape.js with the dagre layered layout, fed by the lineage JSON endpoint.
// Pan (drag), zoom (wheel / pinch) and click a node to open its version or model version. The server-drawn SVG
// stays in the page and is shown whenever this script cannot run or the endpoint does not answer.
(function () {
  const COLORS = { dataset_version: "#e8f0fe", model_version: "#e6f4ea" };

  function render(box, graph, urls) {
    const focus = box.dataset.focus;
    const elements = graph.nodes.map((n) => ({
      data: {
        id: n.key,
        label: n.label + (n.rows != null ? `\n${n.type.replace("_", " ")} · ${n.rows.toLocaleString()} rows` : `\n${n.type.replace("_", " ")}`),
        url: urls[n.key] || "",
        color: COLORS[n.type] || "#eeeeee",
        focus: n.key === focus ? 1 : 0,
      },
    }));
    graph.edges.forEach((e, i) => {
      elements.push({ data: { id: `e${i}`, source: e.source, target: e.target, label: e.operation } });
    });
    const cy = cytoscape({
      container: box,
      elements: elements,
      wheelSensitivity: 0.3,
      minZoom: 0.1,
      maxZoom: 3,
      boxSelectionEnabled: false,
      autoungrabify: true,
      style: [
        {
          selector: "node",
          style: {
            shape: "round-rectangle", width: 200, height: 48, "background-color": "data(color)",
            "border-width": 1, "border-color": "#5f6368", label: "data(label)", "text-wrap": "wrap",
            "text-max-width": 190, "text-valign": "center", "text-halign": "center", "font-size": 11,
          },
        },
        { selector: "node[focus = 1]", style: { "border-width": 3, "border-color": "#d93025" } },
        { selector: "node[url != '']", style: { cursor: "pointer" } },
        {
          selector: "edge",
          style: {
            width: 1.5, "line-color": "#555", "target-arrow-color": "#555", "target-arrow-shape": "triangle",
            "curve-style": "bezier", label: "data(label)", "font-size": 10, "text-background-color": "#fff",
            "text-background-opacity": 1,
          },
        },
      ],
      layout: { name: "dagre", rankDir: "LR", nodeSep: 20, rankSep: 70 },
    });
    cy.on("tap", "node", (ev) => {
      const url = ev.target.data("url");
      if (url) window.location.assign(url);
    });
    cy.on("mouseover", "node", (ev) => { box.title = ev.target.data("url") ? "open " + ev.target.data("label").split("\n")[0] : ""; });
    box.dataset.renderedNodes = String(cy.nodes().length);
    window.stewardLineage = cy;
    return cy;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("lineage-graph");
    if (!box || typeof cytoscape === "undefined") return;
    if (typeof cytoscapeDagre !== "undefined") cytoscape.use(cytoscapeDagre);
    const urls = JSON.parse(document.getElementById("lineage-urls").textContent);
    fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((graph) => {
        box.hidden = false;
        const fallback = document.getElementById("lineage-svg");
        if (fallback) fallback.hidden = true;
        const tools = document.getElementById("lineage-tools");
        if (tools) tools.hidden = false;
        const cy = render(box, graph, urls);
        const fit = document.getElementById("lineage-fit");
        if (fit) fit.addEventListener("click", () => cy.fit(undefined, 20));
      })
      .catch(() => { /* keep the server-drawn picture */ });
  });
})();
