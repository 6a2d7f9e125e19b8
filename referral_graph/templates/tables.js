/* The report's tables, made to work like a tool: sort, search, pages.
 *
 * referral_graph/templates/tables.js, inlined into the page at render time (its
 * SHA-256 is in the page's Content-Security-Policy). It loads nothing and asks for
 * nothing. It only enhances the tables the templates wrote: without it (no
 * JavaScript, or print) every row is there to read.
 *
 * - Sort: each heading's content moves into a <button>; a click (or Enter/Space)
 *   sorts ascending, the next one descending; the <th> gets aria-sort. Sorting
 *   reads what a cell shows: a column whose cells are all numbers sorts as numbers
 *   ("1,234", "45 %", "+3 pts", "0.512"), all dates as dates ("2024-03-01",
 *   "01 Mar 2024", "Mar 2024"), anything else as text. A suppressed count ("<11")
 *   sorts just below its threshold (10.5): above 0, below every count shown.
 *   Empty cells ("–", "—", "") go last in both directions. Equal cells keep
 *   their order. Rows under a group heading (town · practice) are sorted within
 *   their group.
 * - Search: one box per table that has columns marked data-search (names, ids,
 *   practices, towns, specialties); case-insensitive, a row matches when the text
 *   is in any of them, in the row's data-ids, or in its searchable group heading.
 * - Pages: a table of more than PAGE_SIZE rows shows them a page at a time;
 *   "Rows X–Y of N" counts the rows that match the search.
 *
 * Rows are moved and hidden (the hidden attribute), never rebuilt: a cell keeps
 * its links and markup. @media print in page.css shows every row, no controls.
 */
(function () {
  "use strict";

  var PAGE_SIZE = 25;
  var MISSING = /^(|\u2013|\u2014|-)$/; // en dash (format_count), em dash, hyphen, empty
  var MONTHS = ["jan", "feb", "mar", "apr", "may", "jun",
                "jul", "aug", "sep", "oct", "nov", "dec"];
  var MARKS = { none: "\u2195", ascending: "\u25B2", descending: "\u25BC" }; // ↕ ▲ ▼
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  /* A cell's text as a number, or null. "<11" (a count from 1 to 10, suppressed) is 10.5. */
  function asNumber(text) {
    var t = text.replace(/\s+/g, "").replace(/(%|pts)$/, "").replace(/,/g, "")
      .replace(/^\u2212/, "-");
    var suppressed = /^<(\d+(\.\d+)?)$/.exec(t);
    if (suppressed) return parseFloat(suppressed[1]) - 0.5;
    return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? parseFloat(t) : null;
  }

  /* A cell's text as a date (milliseconds), or null. */
  function asDate(text) {
    var iso = /^(\d{4})-(\d{2})(-(\d{2}))?([ T][\d:.]+)?$/.exec(text);
    if (iso) return Date.UTC(+iso[1], +iso[2] - 1, +(iso[4] || 1));
    var named = /^((\d{1,2}) )?([A-Za-z]{3}) (\d{2}|\d{4})$/.exec(text);
    var month = named ? MONTHS.indexOf(named[3].toLowerCase()) : -1;
    if (month < 0) return null;
    var year = +named[4] + (named[4].length === 2 ? 2000 : 0);
    return Date.UTC(year, month, +(named[2] || 1));
  }

  /* The sort keys of one column: {type, keys}, a key null for an empty cell. */
  function columnKeys(texts) {
    var present = texts.filter(function (t) { return !MISSING.test(t); });
    var types = [["date", asDate], ["number", asNumber]];
    for (var i = 0; i < types.length; i++) {
      var parse = types[i][1];
      if (present.length && present.every(function (t) { return parse(t) !== null; })) {
        return { type: types[i][0],
                 keys: texts.map(function (t) { return MISSING.test(t) ? null : parse(t); }) };
      }
    }
    return { type: "text",
             keys: texts.map(function (t) { return MISSING.test(t) ? null : t; }) };
  }

  function cellText(cell) {
    return cell ? cell.textContent.replace(/\s+/g, " ").trim() : "";
  }

  /* The heading just before `table` (h2/h3), to name its controls. */
  function tableName(table) {
    for (var el = table.previousElementSibling; el; el = el.previousElementSibling) {
      if (/^H[1-6]$/.test(el.tagName)) return cellText(el);
    }
    return "this table";
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text) el.textContent = text;
    return el;
  }

  function enhance(table, number) {
    var body = table.tBodies[0];
    var headings = table.tHead ? Array.prototype.slice.call(table.tHead.rows[0].cells) : [];
    if (!body || !headings.length) return;
    var titles = headings.map(cellText); // before the sort marks join them

    // The rows, in groups: a group heading row (class "group") and the rows under it.
    var groups = [{ head: null, rows: [] }];
    Array.prototype.forEach.call(body.rows, function (tr) {
      if (tr.classList.contains("group")) {
        groups.push({ head: tr, rows: [] });
        return;
      }
      groups[groups.length - 1].rows.push({ tr: tr, order: 0, search: "" });
    });
    var records = [];
    groups.forEach(function (group) { records = records.concat(group.rows); });
    if (records.length < 2) return;
    table.classList.add("rg-table");

    // What the search box reads in each row.
    var searchable = headings.map(function (th) { return th.hasAttribute("data-search"); });
    groups.forEach(function (group) {
      var label = group.head && group.head.hasAttribute("data-search") ? cellText(group.head) : "";
      group.rows.forEach(function (record) {
        var parts = [label, record.tr.getAttribute("data-ids") || ""];
        searchable.forEach(function (yes, col) {
          if (yes) parts.push(cellText(record.tr.cells[col]));
        });
        record.search = parts.join(" \u0000 ").toLowerCase();
      });
    });
    records.forEach(function (record, i) { record.order = i; });
    var canSearch = records.some(function (r) { return r.search.replace(/[\s\u0000]/g, ""); });

    var columns = headings.map(function (th, col) {
      return columnKeys(records.map(function (r) { return cellText(r.tr.cells[col]); }));
    });
    records.forEach(function (record, i) {
      record.keys = columns.map(function (column) { return column.keys[i]; });
    });

    // query: what the search box holds, as typed (shown) and lower-cased (matched).
    var state = { column: -1, direction: "none", page: 0, typed: "", query: "" };

    // --- sorting
    function sortBy(col) {
      var direction = state.column === col && state.direction === "ascending"
        ? "descending" : "ascending";
      var sign = direction === "ascending" ? 1 : -1;
      var text = columns[col].type === "text";
      state.column = col;
      state.direction = direction;
      state.page = 0; // the new order from its start
      groups.forEach(function (group) {
        group.rows.sort(function (a, b) {
          var x = a.keys[col], y = b.keys[col];
          if (x === null || y === null) {
            return (x === null) - (y === null) || a.order - b.order; // empty cells last
          }
          var c = text ? collator.compare(x, y) : x - y;
          return sign * c || a.order - b.order;
        });
        // Move the rows (their cells untouched): the group's heading, then its rows.
        if (group.head) body.appendChild(group.head);
        group.rows.forEach(function (r) { body.appendChild(r.tr); });
      });
      headings.forEach(function (th, i) {
        var mark = th.querySelector(".rg-mark");
        if (i === col) th.setAttribute("aria-sort", direction);
        else th.removeAttribute("aria-sort");
        mark.textContent = MARKS[i === col ? direction : "none"];
      });
      update();
    }

    headings.forEach(function (th, col) {
      var button = element("button", "rg-sort");
      button.type = "button";
      while (th.firstChild) button.appendChild(th.firstChild); // keep the heading's content
      var mark = element("span", "rg-mark", MARKS.none);
      mark.setAttribute("aria-hidden", "true");
      button.appendChild(mark);
      th.appendChild(button);
      button.addEventListener("click", function () { sortBy(col); });
    });

    // --- search box, row count and pager, above the table
    var name = tableName(table);
    var paged = records.length > PAGE_SIZE;
    var tools = element("div", "rg-tools");
    var status = element("span", "rg-status");
    status.setAttribute("aria-live", "polite");
    var input = null;
    if (canSearch) {
      var what = titles.filter(function (title, i) { return searchable[i]; })
        .map(function (title) { return title.toLowerCase(); });
      groups.forEach(function (g) {
        var place = g.head && g.head.getAttribute("data-search");
        if (place && what.indexOf(place) < 0) what.push(place);
      });
      if (records.some(function (r) { return r.tr.hasAttribute("data-ids"); })) what.push("id");
      input = element("input", "rg-search");
      input.type = "search";
      input.id = "rg-search-" + number;
      input.placeholder = what.join(", ");
      input.setAttribute("aria-label", "Search " + name + " by " + what.join(", "));
      var label = element("label", "", "Search");
      label.htmlFor = input.id;
      tools.appendChild(label);
      tools.appendChild(input);
      input.addEventListener("input", function () {
        state.typed = input.value.replace(/\s+/g, " ").trim();
        state.query = state.typed.toLowerCase();
        state.page = 0;
        update();
      });
      input.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && input.value) {
          input.value = "";
          input.dispatchEvent(new Event("input"));
        }
      });
    }
    tools.appendChild(status);
    var previous = null, next = null;
    if (paged) {
      previous = element("button", "rg-page", "Previous");
      next = element("button", "rg-page", "Next");
      previous.type = next.type = "button";
      previous.setAttribute("aria-label", "Previous rows of " + name);
      next.setAttribute("aria-label", "Next rows of " + name);
      previous.addEventListener("click", function () { turn(-1); });
      next.addEventListener("click", function () { turn(1); });
      tools.appendChild(previous);
      tools.appendChild(next);
    }
    if (canSearch || paged) table.parentNode.insertBefore(tools, table);

    function matching() {
      var rows = [];
      groups.forEach(function (group) {
        group.rows.forEach(function (r) {
          if (!state.query || r.search.indexOf(state.query) >= 0) rows.push(r);
        });
      });
      return rows;
    }

    function turn(step) {
      var pages = Math.max(1, Math.ceil(matching().length / PAGE_SIZE));
      var page = Math.min(Math.max(state.page + step, 0), pages - 1);
      if (page !== state.page) {
        state.page = page;
        update();
      }
    }

    // Show the rows of the current page among those that match; say which.
    function update() {
      var rows = matching();
      var pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
      state.page = Math.min(state.page, pages - 1);
      var first = paged ? state.page * PAGE_SIZE : 0;
      var last = paged ? Math.min(first + PAGE_SIZE, rows.length) : rows.length;
      records.forEach(function (r) { r.tr.hidden = true; });
      rows.slice(first, last).forEach(function (r) { r.tr.hidden = false; });
      groups.forEach(function (group) {
        if (group.head) group.head.hidden = !group.rows.some(function (r) { return !r.tr.hidden; });
      });
      var text = rows.length
        ? "Rows " + (first + 1) + "\u2013" + last + " of " + rows.length
        : "No rows";
      if (state.query) {
        text += " matching \u201C" + state.typed + "\u201D (" + records.length + " in the table)";
      }
      status.textContent = text;
      if (paged) {
        previous.setAttribute("aria-disabled", String(state.page === 0));
        next.setAttribute("aria-disabled", String(state.page >= pages - 1));
      }
    }

    update();
  }

  var tables = document.querySelectorAll("main table");
  for (var i = 0; i < tables.length; i++) enhance(tables[i], i + 1);
  window.__rg_tables_ready_ms = performance.now();
})();
