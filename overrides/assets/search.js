/* Site search for the campus portal: runs in the browser against the static index that
   scripts/portal/index.py writes under search/. No library, nothing loaded from outside the site.
   Teachers' text is only ever put on the page with textContent, never as HTML. */
(function () {
  "use strict";

  var root = document.querySelector("[data-portal-search]");
  if (!root) return;

  var BASE = root.getAttribute("data-base") || "./";
  var PAGE = 20;
  // Facet keys as they appear in the URL, in the order the panel shows them.
  var FACETS = [
    ["subject", "学科"], ["grade", "年级"], ["point", "能力点"], ["env", "教学环境"],
    ["dim", "维度"], ["type", "类型"], ["term", "学期"], ["group", "教研组"], ["school", "学校"], ["ex", "优秀案例"]
  ];
  // The same classes as _CJK, _SPACE and _JOIN in scripts/portal/index.py.
  var CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff";
  var SPACES = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+/g;
  var JOIN = new RegExp("(?<=[" + CJK + "]) (?=[" + CJK + "a-z0-9])|(?<=[a-z0-9]) (?=[" + CJK + "])", "g");
  var traditional = {};  // traditional -> simplified, from facets.json.gz (folding_table() in index.py)

  var facets = null;
  var shardCache = {};
  var docCache = {};  // result entries by file, DOCS_PER_FILE per file (index.py)
  var shown = 0;
  var current = [];
  var queryWords = [];

  // -- tokens: must agree with tokens() in scripts/portal/index.py ------------------------------

  function simplify(text) {
    return Array.from(text, function (c) { return traditional[c] || c; }).join("");
  }

  function fold(text, query) {
    var folded = simplify(text.normalize("NFKC").toLowerCase()).replace(SPACES, " ").replace(/^ +| +$/g, "");
    return query ? folded : folded.replace(JOIN, "");  // in a query every space separates words
  }

  function grams(run) {  // every 1, 2 and 3 adjacent characters, as grams() in index.py
    var chars = Array.from(run);
    var found = new Set(chars);
    for (var i = 0; i + 1 < chars.length; i++) {
      found.add(chars[i] + chars[i + 1]);
      if (i + 2 < chars.length) found.add(chars[i] + chars[i + 1] + chars[i + 2]);
    }
    return found;
  }

  function tokens(text) {  // the index terms of one field: only the tests need these
    var found = new Set();
    fold(text).split(" ").forEach(function (run) { grams(run).forEach(function (g) { found.add(g); }); });
    found.delete("");
    return Array.from(found).sort();
  }

  function words(query) {
    return fold(query, true).split(" ").filter(function (w) { return w; });
  }

  // A short word looks itself up; a longer one its three-character grams (query_terms() in index.py).
  function queryTerms(query) {
    var terms = new Set();
    words(query).forEach(function (word) {
      var chars = Array.from(word);
      if (chars.length <= 2) terms.add(word);
      else grams(word).forEach(function (g) { if (Array.from(g).length === 3) terms.add(g); });
    });
    return Array.from(terms).sort();
  }

  function shardOf(term, count) {
    var hash = 0x811c9dc5;
    for (var ch of term) { hash ^= ch.codePointAt(0); hash = Math.imul(hash, 0x01000193) >>> 0; }
    return hash % count;
  }

  // -- loading -----------------------------------------------------------------------------------

  // Browsers without DecompressionStream (older Chromium cores of 360 and QQ browsers) get a
  // small inflate library (fflate, MIT, assets/vendor/), loaded only then and only once.
  var inflater = null;
  function gunzipper() {
    if (typeof DecompressionStream === "function") return Promise.resolve(null);
    if (!inflater) inflater = new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = BASE + "assets/vendor/fflate.min.js";
      script.onload = function () { resolve(window.fflate); };
      script.onerror = function () { inflater = null; reject(new Error("fflate")); };
      document.head.appendChild(script);
    });
    return inflater;
  }

  function loadGz(url) {
    return Promise.all([fetch(url), gunzipper()]).then(function (got) {
      var response = got[0], fflate = got[1];
      if (!response.ok) throw new Error(url + " " + response.status);
      if (fflate) return response.arrayBuffer().then(function (buffer) {
        return fflate.strFromU8(fflate.gunzipSync(new Uint8Array(buffer)));
      });
      var stream = response.body.pipeThrough(new DecompressionStream("gzip"));
      return new Response(stream).text();
    }).then(JSON.parse);
  }

  function loadShard(family, number) {
    var key = family + number;
    if (!shardCache[key]) shardCache[key] = loadGz(BASE + "search/" + family + "/" + number + ".json.gz").catch(function () { return {}; });
    return shardCache[key];
  }

  function decode(encoded) {
    var ids = [];
    var previous = -1;
    encoded.split(",").forEach(function (gap) { previous += parseInt(gap, 10) + 1; ids.push(previous); });
    return ids;
  }

  // A term's postings: ids ascending, and where the term is in each document (0 the title,
  // 1 the metadata, 2 the text only). Each number is (the gap to the previous id, minus one)
  // times three plus the level: leveled_gaps() in index.py.
  function decodeLeveled(encoded) {
    var ids = [], levels = [];
    var previous = -1;
    encoded.split(",").forEach(function (part) {
      var value = parseInt(part, 10);
      previous += Math.floor(value / 3) + 1;
      ids.push(previous);
      levels.push(value % 3);
    });
    return { ids: ids, levels: levels };
  }

  var NONE = { ids: [], levels: [] };

  // A term's documents: the base index's, less its numbers no longer live, and the delta's
  // (documents added or changed since the base was written: scripts/portal/segments.py).
  function postings(term) {
    var base = loadShard("d", shardOf(term, facets.shards.d)).then(function (shard) {
      var found = shard[term] ? decodeLeveled(shard[term]) : NONE;
      if (!facets.dropped) return found;
      var kept = { ids: [], levels: [] };
      found.ids.forEach(function (id, i) { if (!facets.dropped.has(id)) { kept.ids.push(id); kept.levels.push(found.levels[i]); } });
      return kept;
    });
    if (!facets.delta || !facets.delta.d) return base;
    var delta = loadShard("delta/d", shardOf(term, facets.delta.d)).then(function (shard) {
      return shard[term] ? decodeLeveled(shard[term]) : NONE;
    });
    return Promise.all([base, delta]).then(function (both) {
      return { ids: both[0].ids.concat(both[1].ids), levels: both[0].levels.concat(both[1].levels) };
    });
  }

  function intersect(lists) {
    if (!lists.length) return [];
    lists.sort(function (a, b) { return a.length - b.length; });
    var result = lists[0];
    for (var k = 1; k < lists.length && result.length; k++) {
      var other = new Set(lists[k]);
      result = result.filter(function (id) { return other.has(id); });
    }
    return result;
  }

  // -- state in the URL --------------------------------------------------------------------------

  function readState() {
    var params = new URLSearchParams(location.search);
    var state = { q: params.get("q") || "", filters: {} };
    FACETS.forEach(function (f) { state.filters[f[0]] = known(f[0], params.getAll(f[0])); });
    return state;
  }

  // A link may name a value the index does not have (an old bookmark, a typo, a hostile link):
  // it is dropped, once each, rather than drawn as a facet it cannot describe.
  function known(key, values) {
    if (!facets) return values; // the index is not loaded yet: run() reads the URL again once it is
    var info = facets.points.info;
    var codes = facets.points.values;
    var allowed = { point: codes, ex: ["是"],
                    env: codes.map(function (c) { return info[c][1]; }),
                    dim: codes.map(function (c) { return info[c][2]; }) }[key] ||
                  (facets[key] && Array.isArray(facets[key].values) ? facets[key].values : []);
    return values.filter(function (v, i) { return allowed.indexOf(v) >= 0 && values.indexOf(v) === i; });
  }

  function writeState(state, push) {
    var params = new URLSearchParams();
    if (state.q) params.set("q", state.q);
    FACETS.forEach(function (f) { state.filters[f[0]].forEach(function (v) { params.append(f[0], v); }); });
    var url = location.pathname + (params.toString() ? "?" + params.toString() : "");
    history[push ? "pushState" : "replaceState"](null, "", url);
  }

  // -- facet values of one document ----------------------------------------------------------------

  function valuesOf(key, doc) {
    var info = facets.points.info;
    var codes = facets.points.of[doc].map(function (i) { return facets.points.values[i]; });
    if (key === "point") return codes;
    if (key === "env") return codes.map(function (c) { return info[c][1]; });
    if (key === "dim") return codes.map(function (c) { return info[c][2]; });
    if (key === "ex") return facets.exemplary[doc] ? ["是"] : [];
    var table = facets[key];
    var index = table.of[doc];
    return index < 0 ? [] : [table.values[index]];
  }

  function passes(doc, filters, except) {
    for (var i = 0; i < FACETS.length; i++) {
      var key = FACETS[i][0];
      var wanted = filters[key];
      if (key === except || !wanted.length) continue;
      var values = valuesOf(key, doc);
      if (!wanted.some(function (w) { return values.indexOf(w) >= 0; })) return false;
    }
    return true;
  }

  // -- searching -----------------------------------------------------------------------------------

  function search(state) {
    var terms = queryTerms(state.q);
    var anyFilter = FACETS.some(function (f) { return state.filters[f[0]].length; });
    if (!terms.length) {
      var all = [];
      if (anyFilter) for (var i = 0; i < facets.n; i++) if (facets.rank[i] >= 0) all.push(i);
      return Promise.resolve({ candidates: all, tiers: [] });
    }
    return Promise.all(terms.map(postings)).then(function (found) {
      var candidates = intersect(found.map(function (p) { return p.ids; }));
      // A document ranks by its worst term: all in the title first, then all in title or metadata.
      var worst = new Map();
      candidates.forEach(function (id) { worst.set(id, 0); });
      found.forEach(function (p) {
        for (var i = 0; i < p.ids.length; i++) {
          var level = worst.get(p.ids[i]);
          if (level !== undefined && p.levels[i] > level) worst.set(p.ids[i], p.levels[i]);
        }
      });
      var title = new Set(), meta = new Set();
      worst.forEach(function (level, id) { if (level === 0) title.add(id); if (level <= 1) meta.add(id); });
      return { candidates: candidates, tiers: [title, meta] };
    });
  }

  function tier(doc, tiers) {
    for (var i = 0; i < tiers.length; i++) if (tiers[i].has(doc)) return i;
    return tiers.length;
  }

  // Title, then metadata, then text; newest first in each. Each result is sorted as one number
  // (its tier times n plus its place), and facets.byRank turns the place back into the document:
  // a typed array sorts 100,000 numbers in milliseconds, a comparison function took 200 ms.
  function rank(candidates, tiers, filters) {
    var n = facets.n;
    var keys = new Float64Array(candidates.length);
    var kept = 0;
    for (var i = 0; i < candidates.length; i++) {
      if (passes(candidates[i], filters, null)) keys[kept++] = tier(candidates[i], tiers) * n + facets.rank[candidates[i]];
    }
    var sorted = keys.subarray(0, kept).sort();
    var result = new Array(kept);
    for (var k = 0; k < kept; k++) result[k] = facets.byRank[sorted[k] % n];
    return result;
  }

  function counts(candidates, filters) {
    var table = {};
    FACETS.forEach(function (f) { table[f[0]] = {}; });
    candidates.forEach(function (doc) {
      FACETS.forEach(function (f) {
        if (!passes(doc, filters, f[0])) return;
        var seen = {};
        valuesOf(f[0], doc).forEach(function (v) {
          if (seen[v]) return;
          seen[v] = true;
          table[f[0]][v] = (table[f[0]][v] || 0) + 1;
        });
      });
    });
    return table;
  }

  // -- drawing -------------------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function highlight(node, text) {
    // Mark every occurrence of the query's words; everything stays text nodes.
    var words = queryWords.filter(function (w) { return w; });
    if (!words.length) { node.textContent = text; return; }
    // Fold character by character, so that positions in `lower` are positions in `text`.
    var lower = text.replace(/[^]/gu, function (c) {
      var f = simplify(c.normalize("NFKC").toLowerCase());
      return f.length === c.length ? f : c;
    });
    var i = 0;
    while (i < text.length) {
      var best = -1, length = 0;
      words.forEach(function (w) {
        var at = lower.indexOf(w, i);
        if (at >= 0 && (best < 0 || at < best)) { best = at; length = w.length; }
      });
      if (best < 0) { node.appendChild(document.createTextNode(text.slice(i))); break; }
      node.appendChild(document.createTextNode(text.slice(i, best)));
      node.appendChild(el("mark", "", text.slice(best, best + length)));
      i = best + length;
    }
  }

  function order(key, values) {
    var o = facets.points.order;
    var by = { subject: o.subject, grade: o.grade, type: o.type, dim: o.dim,
               env: Object.keys(o.env).map(function (k) { return o.env[k]; }), point: facets.points.values }[key];
    if (by) return values.sort(function (a, b) { return by.indexOf(a) - by.indexOf(b); });
    if (key === "term") return values.sort().reverse();
    return values.sort();
  }

  // Facets: on a narrow screen they fold behind a button that names the ticked ones; the ticked
  // ones are also shown as chips that untick with one press. A redraw keeps keyboard focus where
  // the user was.
  var refocus = null;  // {name, value} of the checkbox to focus after the next redraw
  var toggle = root.querySelector(".portal-facets__toggle");
  toggle.addEventListener("click", function () {
    var panel = root.querySelector(".portal-facets");
    var open = panel.hasAttribute("data-folded");
    if (open) panel.removeAttribute("data-folded"); else panel.setAttribute("data-folded", "");
    toggle.setAttribute("aria-expanded", String(open));
  });

  function untick(key, value) {
    var next = readState();
    next.filters[key] = next.filters[key].filter(function (v) { return v !== value; });
    writeState(next, true);
    run();
  }

  function facetName(key, value) {
    return key === "point" ? value + " " + facets.points.info[value][3] : value;
  }

  function drawChosen(state) {
    var chosen = root.querySelector(".portal-facets__chosen");
    chosen.textContent = "";
    var count = 0;
    FACETS.forEach(function (f) {
      state.filters[f[0]].forEach(function (value) {
        count++;
        var chip = el("button", "portal-chip", facetName(f[0], value) + " ×");
        chip.type = "button";
        chip.setAttribute("aria-label", "取消筛选：" + f[1] + " " + value);
        chip.addEventListener("click", function () { refocus = { toggle: true }; untick(f[0], value); });
        chosen.appendChild(chip);
      });
    });
    toggle.textContent = count ? "筛选条件（已选 " + count + " 项）" : "筛选条件";
  }

  function restoreFocus() {
    if (!refocus) return;
    var wanted = refocus;
    refocus = null;
    var target = wanted.toggle ? toggle : null;
    root.querySelectorAll(".portal-facets__list input").forEach(function (input) {
      if (input.name === wanted.name && input.value === wanted.value) target = input;
    });
    if (target && target.offsetParent !== null) target.focus(); else toggle.focus();
  }

  function drawFacets(state, table) {
    var panel = root.querySelector(".portal-facets__list");
    drawChosen(state);
    panel.textContent = "";
    FACETS.forEach(function (f) {
      var key = f[0];
      var chosen = state.filters[key];
      var values = Object.keys(table[key]);
      chosen.forEach(function (v) { if (values.indexOf(v) < 0) values.push(v); });
      if (!values.length) return;
      if (key === "school" && facets.school.values.length < 2) return; // only our own cases
      var box = el("fieldset", "portal-facet");
      box.appendChild(el("legend", "", f[1]));
      order(key, values).forEach(function (value) {
        var label = el("label", "portal-facet__value");
        var input = el("input");
        input.type = "checkbox";
        input.name = key;
        input.value = value;
        input.checked = chosen.indexOf(value) >= 0;
        input.addEventListener("change", function () {
          refocus = { name: key, value: value };
          var next = readState();
          next.q = state.q;
          next.filters[key] = input.checked ? next.filters[key].concat([value])
                                            : next.filters[key].filter(function (v) { return v !== value; });
          writeState(next, true);
          run();
        });
        label.appendChild(input);
        label.appendChild(el("span", "", facetName(key, value)));
        label.appendChild(el("span", "portal-count", String(table[key][value] || 0)));
        box.appendChild(label);
      });
      panel.appendChild(box);
    });
  }

  function loadEntry(doc) {
    var file = Math.floor(doc / facets.docs_per_file);
    if (!docCache[file]) {
      docCache[file] = fetch(BASE + "search/docs/" + file + ".json").then(function (r) {
        if (!r.ok) throw new Error("search/docs/" + file + ".json " + r.status);
        return r.json();
      }).catch(function (error) { delete docCache[file]; throw error; }); // try again next time
    }
    return docCache[file].then(function (entries) { return entries[doc % facets.docs_per_file]; },
                               function () { return null; });
  }

  function drawMore(list, ticket) {
    var batch = current.slice(shown, shown + PAGE);
    shown += batch.length;
    return Promise.all(batch.map(loadEntry)).then(function (docs) {
      if (ticket !== running) return; // a newer search has replaced these results
      if (docs.indexOf(null) >= 0) list.appendChild(el("li", "portal-empty", "有些结果没能加载（网站可能刚刚更新），请刷新页面再试。"));
      docs.forEach(function (d) {
        if (!d) return;
        var item = el("li", "portal-card portal-result");
        if (d.v) {
          var poster = el("img", "portal-card__poster");
          poster.src = BASE + d.v;
          poster.width = 96;
          poster.height = 54;
          poster.loading = "lazy";
          poster.alt = "";
          item.appendChild(poster);
        }
        var link = el("a", "portal-card__title");
        link.href = BASE + d.u;
        highlight(link, d.t);
        item.appendChild(link);
        if (d.e) item.appendChild(el("span", "portal-badge portal-badge--star", "优秀案例"));
        var meta = el("div", "portal-card__meta");
        meta.appendChild(el("span", "", d.m));
        d.p.forEach(function (code) { meta.appendChild(el("span", "portal-code", code)); });
        item.appendChild(meta);
        if (d.x) { var p = el("p", "portal-card__summary"); highlight(p, d.x); item.appendChild(p); }
        list.appendChild(item);
      });
    });
  }

  function drawResults(state, ticket) {
    var area = root.querySelector(".portal-results");
    area.textContent = "";
    var anyFilter = FACETS.some(function (f) { return state.filters[f[0]].length; });
    if (!state.q.trim() && !anyFilter) {
      area.appendChild(el("p", "portal-empty", "输入关键词搜索全部成果的标题、信息和文档内容，或按条件筛选。"));
      return Promise.resolve();
    }
    var summary = el("p", "portal-search__count", current.length ? "找到 " + current.length + " 份成果" : "没有找到符合条件的成果。");
    area.appendChild(summary);
    var list = el("ul", "portal-cards");
    area.appendChild(list);
    shown = 0;
    var more = el("button", "md-button portal-search__more", "显示更多");
    more.type = "button";
    more.addEventListener("click", function () {
      drawMore(list, ticket).then(function () { if (shown >= current.length) more.remove(); });
    });
    return drawMore(list, ticket).then(function () { if (ticket === running && shown < current.length) area.appendChild(more); });
  }

  var running = 0;
  var first = true;
  function run() {
    var state = readState();
    var ticket = ++running;
    root.removeAttribute("data-ready");
    root.removeAttribute("data-results");
    queryWords = words(state.q);
    root.querySelectorAll("input[name=q]").forEach(function (input) {
      if (first || document.activeElement !== input) input.value = state.q; // never fight the typist
    });
    first = false;
    document.querySelectorAll(".portal-header-search input[name=q]").forEach(function (input) { input.value = state.q; });
    // Results first: each document's facet values (columns.json.gz) are needed only to filter
    // and to count, and are loaded after the first results are on the page.
    var filtered = FACETS.some(function (f) { return state.filters[f[0]].length; });
    return search(state).then(function (found) {
      if (ticket !== running) return;
      return (filtered ? loadColumns() : Promise.resolve(true)).then(function (loaded) {
        if (ticket !== running) return;
        if (!loaded) { root.querySelector(".portal-results").textContent = "筛选条件没能加载（网站可能刚刚更新），请刷新页面后重试。"; return; }
        current = rank(found.candidates, found.tiers, state.filters);
        return drawResults(state, ticket).then(function () {
          if (ticket !== running) return;
          root.setAttribute("data-results", String(performance.now()));  // when (for the benchmark)
          if (!found.candidates.length) { drawFacets(state, counts([], state.filters)); restoreFocus(); return; }
          return loadColumns().then(function (ready) {
            if (ticket !== running) return;
            if (!ready) { root.querySelector(".portal-facets__list").textContent = "筛选条件没能加载（网站可能刚刚更新），请刷新页面后重试。"; return; }
            drawFacets(state, counts(found.candidates, state.filters));
            restoreFocus();
          });
        });
      });
    }).then(function () {
      if (ticket === running) root.setAttribute("data-ready", "true");
    });
  }

  // -- wiring --------------------------------------------------------------------------------------

  var form = root.querySelector("form");
  var input = form.querySelector("input[name=q]");
  var timer = null;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer); // the typed words run now, not once more when the typing pause ends
    var state = readState();
    state.q = input.value.trim();
    writeState(state, true);
    run();
  });
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var state = readState();
      state.q = input.value.trim();
      writeState(state, false);
      run();
    }, 250);
  });
  window.addEventListener("popstate", run);

  // For tests and the benchmark: the ranked document numbers for a query, as the page computes them.
  window.portalSearch = {
    fold: fold,
    tokens: tokens,
    queryWords: words,
    queryTerms: queryTerms,
    ids: function (query) {
      var state = { q: query, filters: {} };
      FACETS.forEach(function (f) { state.filters[f[0]] = []; });
      return search(state).then(function (found) { return rank(found.candidates, found.tiers, state.filters); });
    }
  };

  // Each document's place newest first: `order` lists the numbers in that order as differences
  // from the number before (segments.py); without it the numbers are that order. -1: no document.
  function ranks(table) {
    var rank = new Int32Array(table.n).fill(-1);
    table.byRank = new Int32Array(table.n);  // place -> document
    if (!table.order) { for (var i = 0; i < table.n; i++) { rank[i] = i; table.byRank[i] = i; } return rank; }
    var doc = -1;
    table.order.split(",").forEach(function (step, place) { doc += parseInt(step, 10); rank[doc] = place; table.byRank[place] = doc; });
    return rank;
  }

  function column(text) {  // see _column() in scripts/portal/index.py
    return Array.from(text, function (c) { return c === " " ? -1 : c.charCodeAt(0) - 48; });
  }

  // Each document's facet values, once per visit; resolves false when they cannot be loaded
  // (the next search tries again).
  var columns = null;
  function loadColumns() {
    if (!columns) columns = loadGz(BASE + "search/columns.json.gz").then(function (table) {
      if (table.edition !== facets.columns) { columns = null; return false; }  // rebuilt since the page opened
      FACETS.forEach(function (f) { if (typeof table[f[0]] === "string") facets[f[0]].of = column(table[f[0]]); });
      facets.points.of = table.n ? table.points.split(",").map(column) : [];
      facets.exemplary = Array.from(table.exemplary, function (c) { return c === "1" ? 1 : 0; });
      return true;
    }).catch(function () { columns = null; return false; });
    return columns;
  }

  loadGz(BASE + "search/facets.json.gz").then(function (table) {
    table.dropped = table.dropped ? new Set(decode(table.dropped)) : null;
    table.rank = ranks(table);
    var pairs = Array.from(table.fold || "");
    for (var k = 0; k + 1 < pairs.length; k += 2) traditional[pairs[k]] = pairs[k + 1];
    facets = table;
    return run();
  }).catch(function () {
    root.querySelector(".portal-results").textContent = "搜索索引加载失败，请刷新页面重试。";
  });
})();
