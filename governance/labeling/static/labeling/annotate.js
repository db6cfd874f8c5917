// The annotator page: tasks come from the labeling API as JSON (session + CSRF), no page reload between tasks.
// Keys: number keys choose a label (0-3 for graded relevance, 1-9 otherwise; tags toggle), Enter submits,
// Backspace undoes one's own last label, S skips.
(function () {
  const root = document.getElementById("annotator");
  if (!root) return;
  const project = root.dataset.project;
  const template = root.dataset.template;
  const multi = template === "tags";
  const graded = template === "graded_relevance";
  const csrf = root.querySelector("[name=csrfmiddlewaretoken]").value;
  const api = "/api/v1/labeling";
  const el = (id) => document.getElementById(id);
  let task = null;
  let selected = multi ? new Set() : null;
  let busy = false;

  function call(method, url, body) {
    const headers = { Accept: "application/json", "X-CSRFToken": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method, credentials: "same-origin", headers, body: body === undefined ? undefined : JSON.stringify(body),
    }).then((r) => (r.status === 204 ? { status: 204, data: null } : r.json().then((data) => ({ status: r.status, data }))));
  }

  function say(text, error) {
    const s = el("status");
    s.textContent = text || "";
    s.className = error ? "error" : "";
  }

  function progress() {
    call("GET", `${api}/projects/${project}/progress/`).then(({ data }) => {
      if (!data) return;
      const gold = data.gold.answered
        ? `your accuracy on gold tasks ${Math.round(100 * data.gold.accuracy)} % (${data.gold.correct} of ${data.gold.answered})`
        : "no gold task answered yet";
      el("progress").textContent = `You labeled ${data.annotated} of ${data.tasks} tasks · ${data.remaining_for_you} left for you · ${gold}`;
    });
  }

  function keyFor(i) { return graded ? String(i) : String(i + 1); }

  function drawLabels() {
    const box = el("labels");
    box.replaceChildren();
    task.labels.forEach((label, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.label = label.name;
      const key = document.createElement("span");
      key.className = "key";
      key.textContent = i < 10 ? `[${keyFor(i)}]` : "";
      b.append(key, document.createTextNode(label.name));
      if (label.description) b.title = label.description;
      const suggested = multi ? (task.suggestion || []).includes(label.name) : task.suggestion === label.name;
      if (suggested) b.classList.add("suggested");
      if (multi ? selected.has(label.name) : selected === label.name) b.classList.add("selected");
      b.addEventListener("click", () => choose(i));
      box.append(b);
    });
  }

  function show(t) {
    task = t;
    const given = t.label !== null && t.label !== undefined ? t.label : t.suggestion;
    selected = multi ? new Set(given || []) : given || null;
    el("task-id").textContent = `${t.id} (row ${t.row})`;
    const body = el("row").querySelector("tbody");
    body.replaceChildren();
    Object.entries(t.data).forEach(([name, value]) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = name + (t.masked_columns.includes(name) ? " (masked)" : "");
      const td = document.createElement("td");
      td.textContent = value === null ? "" : String(value);
      tr.append(th, td);
      body.append(tr);
    });
    drawLabels();
    el("task").hidden = false;
    el("done").hidden = true;
  }

  function next() {
    busy = true;
    return call("GET", `${api}/projects/${project}/next/`).then(({ status, data }) => {
      busy = false;
      if (status === 204) {
        task = null;
        el("task").hidden = true;
        el("done").hidden = false;
      } else if (status === 200) {
        show(data);
      } else {
        say(data && data.detail ? data.detail : `error ${status}`, true);
      }
      progress();
    });
  }

  function choose(i) {
    if (!task || i < 0 || i >= task.labels.length) return;
    const name = task.labels[i].name;
    if (multi) {
      if (selected.has(name)) selected.delete(name); else selected.add(name);
    } else {
      selected = name;
    }
    drawLabels();
  }

  function submit() {
    if (!task || busy) return;
    if (!multi && !selected) { say("Choose a label first.", true); return; }
    const label = multi ? task.labels.map((l) => l.name).filter((n) => selected.has(n)) : selected;
    busy = true;
    call("POST", `${api}/tasks/${task.id}/annotations/`, { label }).then(({ status, data }) => {
      busy = false;
      if (status === 201) {
        say(`Saved task ${task.id}: ${Array.isArray(label) ? label.join(", ") || "(no tag)" : label}`);
        next();
      } else {
        say(data.detail || `error ${status}`, true);
        if (data.code === "expired" || data.code === "not_assigned") next();
      }
    });
  }

  function undo() {
    if (busy) return;
    busy = true;
    call("POST", `${api}/projects/${project}/undo/`).then(({ status, data }) => {
      busy = false;
      if (status === 200) {
        say(`Undone: task ${data.id} is back`);
        show(data);
        progress();
      } else {
        say(data.detail || `error ${status}`, true);
      }
    });
  }

  function skip() {
    if (!task || busy) return;
    busy = true;
    const id = task.id;
    call("POST", `${api}/tasks/${id}/skip/`).then(({ status, data }) => {
      busy = false;
      if (status === 204) { say(`Skipped task ${id}`); next(); } else { say(data.detail || `error ${status}`, true); }
    });
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target && ["INPUT", "TEXTAREA", "SELECT"].includes(ev.target.tagName)) return;
    if (/^[0-9]$/.test(ev.key)) {
      const n = Number(ev.key);
      choose(graded ? n : n - 1);
      ev.preventDefault();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      submit();
    } else if (ev.key === "Backspace") {
      ev.preventDefault();
      undo();
    } else if (ev.key === "s" || ev.key === "S") {
      ev.preventDefault();
      skip();
    }
  });

  next();
})();
