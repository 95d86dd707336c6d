// segeval report pages: sortable tables, table filters, legend toggling over inline SVG figures.
// Our own code, no library; allowed by the page's Content-Security-Policy through its sha256 hash.
"use strict";

// Sorting: a click (or Enter/Space) on a column header of a table.sortable sorts its body by that column.
// A cell's data-v, when present, is its sort key (numbers compare as numbers; empty values go last).
function sortKey(cell) {
  const raw = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
  const number = raw === "" ? NaN : Number(raw);
  return { raw: raw, number: number };
}

function compareKeys(a, b) {
  const aNum = !Number.isNaN(a.number);
  const bNum = !Number.isNaN(b.number);
  if (aNum && bNum) return a.number - b.number;
  if (a.raw === "" || b.raw === "") return a.raw === "" ? (b.raw === "" ? 0 : 1) : -1;
  if (aNum !== bNum) return aNum ? -1 : 1;
  return a.raw.localeCompare(b.raw, undefined, { numeric: true });
}

function sortTable(table, column, header) {
  const body = table.tBodies[0];
  const ascending = header.getAttribute("aria-sort") !== "ascending";
  const rows = Array.from(body.rows);
  const keyed = rows.map((row, index) => ({ row: row, index: index, key: sortKey(row.cells[column]) }));
  keyed.sort((a, b) => {
    const order = compareKeys(a.key, b.key);
    const empty = a.key.raw === "" || b.key.raw === "";
    return (empty || ascending ? order : -order) || a.index - b.index;
  });
  for (const th of table.tHead.rows[0].cells) th.removeAttribute("aria-sort");
  header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const fragment = document.createDocumentFragment();
  for (const item of keyed) fragment.appendChild(item.row);
  body.appendChild(fragment);
}

function setUpSorting(table) {
  const headers = table.tHead ? table.tHead.rows[0].cells : [];
  Array.from(headers).forEach((th, column) => {
    th.tabIndex = 0;
    th.title = "sort by this column";
    const sort = () => sortTable(table, column, th);
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        sort();
      }
    });
  });
}

// Data tables: a table.data-table whose data-source names a JSON block {columns, first_value, rows}
// (each row: case, class, class name, status, case index, then one number or null per value column).
// Sorting and filtering work on the data; the first PAGE rows that pass the filters are drawn, and a
// button draws the rest. A case link opens the case's details (JSON block data-cases) in #case-detail.
const PAGE = 300;

function formatValue(value) {
  if (value === null || value === undefined) return "";
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

function setUpDataTable(table) {
  const data = JSON.parse(document.getElementById(table.dataset.source).textContent);
  const cases = table.dataset.cases ? JSON.parse(document.getElementById(table.dataset.cases).textContent) : [];
  const more = document.getElementById(table.id + "-more");
  const state = { rows: data.rows.slice(), limit: PAGE, keep: () => true, column: -1, ascending: true };
  const draw = () => {
    const body = table.tBodies[0];
    const fragment = document.createDocumentFragment();
    let matching = 0;
    for (const row of state.rows) {
      if (!state.keep(row)) continue;
      matching += 1;
      if (matching > state.limit) continue;
      const tr = document.createElement("tr");
      tr.dataset.class = row[1];
      tr.dataset.status = row[3];
      row.forEach((value, index) => {
        if (index === 4) return;
        const td = document.createElement("td");
        if (index === 0 && row[4] !== null) {
          const link = document.createElement("a");
          link.href = "#case-detail";
          link.textContent = value;
          link.addEventListener("click", () => showCase(cases[row[4]]));
          td.appendChild(link);
        } else {
          td.textContent = index >= data.first_value ? formatValue(value) : value;
          if (index >= data.first_value) td.className = "n";
        }
        tr.appendChild(td);
      });
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
    if (more) {
      more.hidden = matching <= state.limit;
      more.textContent = "show all " + matching + " rows";
    }
    table.dispatchEvent(new CustomEvent("drawn", { detail: matching }));
  };
  if (more) more.addEventListener("click", () => { state.limit = Infinity; draw(); });
  Array.from(table.tHead.rows[0].cells).forEach((th, column) => {
    const index = column < 4 ? column : column + 1;
    th.tabIndex = 0;
    th.title = "sort by this column";
    const sort = () => {
      state.ascending = state.column === index ? !state.ascending : true;
      state.column = index;
      const sign = state.ascending ? 1 : -1;
      state.rows.sort((a, b) => {
        const x = a[index], y = b[index];
        if (x === null || y === null) return x === null ? (y === null ? 0 : 1) : -1;
        return sign * (typeof x === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true }));
      });
      for (const cell of table.tHead.rows[0].cells) cell.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", state.ascending ? "ascending" : "descending");
      draw();
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
    });
  });
  table.segeval = { state: state, draw: draw, data: data };
  document.querySelectorAll("a[data-case]").forEach((link) => {
    link.addEventListener("click", () => showCase(cases[Number(link.dataset.case)]));
  });
  draw();
}

function showCase(entry) {
  const panel = document.getElementById("case-detail");
  if (!panel || !entry) return;
  const list = panel.querySelector("dl");
  list.replaceChildren();
  for (const [key, value] of Object.entries(entry)) {
    const term = document.createElement("dt");
    term.textContent = key;
    const detail = document.createElement("dd");
    detail.textContent = value;
    list.append(term, detail);
  }
  panel.hidden = false;
}

// Filtering: a form.filters with data-table="ID" keeps the rows of that data table whose class and status
// match, whose case name holds a text, and whose value in the chosen metric column is within [min, max].
function setUpFilters(form) {
  const table = document.getElementById(form.dataset.table);
  if (!table || !table.segeval) return;
  const field = (name) => form.elements.namedItem(name);
  const count = form.querySelector("output");
  table.addEventListener("drawn", (event) => { if (count) count.textContent = event.detail + " row(s) shown"; });
  const apply = () => {
    const cls = field("class").value;
    const status = field("status").value;
    const text = field("text").value.trim().toLowerCase();
    const column = field("metric").value === "" ? -1 : Number(field("metric").value);
    const low = field("min").value !== "" ? Number(field("min").value) : -Infinity;
    const high = field("max").value !== "" ? Number(field("max").value) : Infinity;
    table.segeval.state.keep = (row) =>
      (cls === "" || row[1] === cls) &&
      (status === "" || row[3] === status) &&
      (text === "" || String(row[0]).toLowerCase().includes(text)) &&
      (column < 0 || (row[column] !== null && row[column] >= low && row[column] <= high));
    table.segeval.draw();
  };
  form.addEventListener("input", apply);
  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("reset", () => setTimeout(apply, 0));
}

// Legend toggling: a button with data-curve="NAME" inside a .legend with data-figure="ID" shows only the
// SVG groups of that curve (ids "c-NAME--…") in figure ID; a second click shows every curve again.
// Hovering a curve names it in the figure's caption line.
function curveGroups(figure) {
  return Array.from(figure.querySelectorAll('g[id^="c-"]'));
}

function curveName(id) {
  return id.slice(2, id.indexOf("--") > 0 ? id.indexOf("--") : undefined);
}

function setUpLegend(legend) {
  const figure = document.getElementById(legend.dataset.figure);
  if (!figure) return;
  const buttons = Array.from(legend.querySelectorAll("button[data-curve]"));
  const hover = figure.parentElement.querySelector(".hover-name");
  buttons.forEach((button) => {
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => {
      const only = button.getAttribute("aria-pressed") !== "true";
      for (const other of buttons) other.setAttribute("aria-pressed", "false");
      if (only) button.setAttribute("aria-pressed", "true");
      for (const group of curveGroups(figure)) {
        const name = curveName(group.id);
        group.style.display = !only || name === button.dataset.curve || !legendHas(buttons, name) ? "" : "none";
      }
    });
  });
  for (const group of curveGroups(figure)) {
    group.addEventListener("mouseenter", () => {
      group.classList.add("hovered");
      if (hover) hover.textContent = curveName(group.id);
    });
    group.addEventListener("mouseleave", () => {
      group.classList.remove("hovered");
      if (hover) hover.textContent = "";
    });
  }
}

function legendHas(buttons, name) {
  return buttons.some((button) => button.dataset.curve === name);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach(setUpSorting);
  document.querySelectorAll("table.data-table").forEach(setUpDataTable);
  document.querySelectorAll("form.filters").forEach(setUpFilters);
  document.querySelectorAll(".legend[data-figure]").forEach(setUpLegend);
});
