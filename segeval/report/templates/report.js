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

// Filtering: a form.filters with data-table="ID" filters that table's rows by their data-class and
// data-status, by a text in the case name, and by a range of the column chosen in its metric select.
function setUpFilters(form) {
  const table = document.getElementById(form.dataset.table);
  if (!table) return;
  const field = (name) => form.elements.namedItem(name);
  const count = form.querySelector("output");
  const apply = () => {
    const cls = field("class") ? field("class").value : "";
    const status = field("status") ? field("status").value : "";
    const text = field("text") ? field("text").value.trim().toLowerCase() : "";
    const metric = field("metric") ? field("metric").value : "";
    const low = field("min") && field("min").value !== "" ? Number(field("min").value) : -Infinity;
    const high = field("max") && field("max").value !== "" ? Number(field("max").value) : Infinity;
    const column = metric === "" ? -1 : Number(metric);
    let shown = 0;
    for (const row of table.tBodies[0].rows) {
      let keep = (cls === "" || row.dataset.class === cls) && (status === "" || row.dataset.status === status);
      if (keep && text !== "") keep = row.cells[0].textContent.toLowerCase().includes(text);
      if (keep && column >= 0) {
        const value = sortKey(row.cells[column]).number;
        keep = !Number.isNaN(value) && value >= low && value <= high;
      }
      row.hidden = !keep;
      if (keep) shown += 1;
    }
    if (count) count.textContent = shown + " row(s) shown";
  };
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
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
  document.querySelectorAll("form.filters").forEach(setUpFilters);
  document.querySelectorAll(".legend[data-figure]").forEach(setUpLegend);
});
