/* xform docs: the page's own code. Vanilla JavaScript, no network.
 *
 * Data comes from the xf-data block written by `xform docs generate`: meta
 * as plain JSON; graph (every node; inflated at load), details (chunks of
 * nodes' pages, each inflated when first needed) and lineage (column
 * lineage, inflated when first needed) as deflated, base64-encoded JSON.
 *
 * Everything from the project is inserted as text (textContent, SVG text
 * nodes, attribute values); never as markup.
 */
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  /* At most this many nodes are laid out at once: dagre is quadratic-ish,
   * and a drawing of thousands of boxes helps nobody. Larger selections ask
   * for a narrower selector. */
  var MAX_DRAW = 400;
  var MAX_TREE = 500;

  var DATA = JSON.parse(document.getElementById('xf-data').textContent);
  var META = DATA.meta;
  var NODES = [], BY_ID = new Map();

  /* base64 of zlib-deflated UTF-8 JSON -> value. */
  function inflate(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
    return new Response(stream).text().then(JSON.parse);
  }
  function setGraph(g) {
    NODES = g.nodes.map(function (a, i) {
      return {
        i: i, id: a[0], type: a[1], name: a[2], pkg: a[3], path: g.paths[a[4]], fqn: a[5] || '',
        tags: a[6] || [], mat: a[7], parents: a[8] || [], source: a[9], testName: a[10], children: [],
        lname: a[2].toLowerCase()
      };
    });
    NODES.forEach(function (n) {
      n.parents.forEach(function (p) { NODES[p].children.push(n.i); });
    });
    BY_ID = new Map(NODES.map(function (n) { return [n.id, n]; }));
  }

  /* ---------- small DOM helpers ---------- */
  function h(tag, props) {
    var e = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') e.textContent = v;
        else if (k === 'class') e.className = v;
        else if (k === 'on') Object.keys(v).forEach(function (ev) { e.addEventListener(ev, v[ev]); });
        else e.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(parent, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(parent, c); }); return; }
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  function s(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }
  function stext(x, y, str, cls) {
    var t = s('text', { x: x, y: y });
    if (cls) t.setAttribute('class', cls);
    t.textContent = str;
    return t;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function typeDot(type) { return h('span', { class: 'dot t-' + type }); }
  function badge(type, label) { return h('span', { class: 'badge t-' + type, text: label || type }); }
  function nodeHref(n) { return '#node=' + encodeURIComponent(n.id); }
  function lineageHref(n, col) { return '#lineage=' + encodeURIComponent(n.id) + '&col=' + encodeURIComponent(col); }
  function graphHref(sel, focus) {
    return '#graph&select=' + encodeURIComponent(sel) + (focus ? '&focus=' + encodeURIComponent(focus.id) : '');
  }
  function nodeLink(n) { return h('a', { class: 'chip', href: nodeHref(n), title: n.id }, typeDot(n.type), n.name); }
  function label(n) { return n.type === 'source' && n.source ? n.source + '.' + n.name : n.name; }
  function fmt(n) { return n.toLocaleString('en-US'); }
  function clip(str, max) { return str.length > max ? str.slice(0, max - 1) + '…' : str; }

  /* ---------- lazily parsed data ---------- */
  var chunks = new Map();
  /* Inflates the chunks holding these nodes' details. */
  function loadDetails(indices) {
    var need = new Set(indices.map(function (i) { return Math.floor(i / META.chunk); }));
    return Promise.all(Array.from(need).map(function (c) {
      if (!chunks.has(c)) {
        var p = inflate(DATA.details[c]).then(function (list) { p.list = list; return list; });
        chunks.set(c, p);
      }
      return chunks.get(c);
    }));
  }
  /* A node's details, once loadDetails has resolved for it ({} before). */
  function details(i) {
    var p = chunks.get(Math.floor(i / META.chunk));
    return (p && p.list && p.list[i % META.chunk]) || {};
  }

  var LIN = null, linPromise = null;
  function colKey(i, c) { return i + '\u0000' + c.toLowerCase(); }
  function loadLineage() {
    if (!linPromise) linPromise = inflate(DATA.lineage).then(buildLineage);
    return linPromise;
  }
  function lineage() { return LIN; }
  function buildLineage(rows) {
    var cols = new Map(), byNode = new Map(), down = new Map();
    rows.forEach(function (r) {
      var i = r[0], list = [];
      r[1].forEach(function (c) {
        var entry = { i: i, name: c[0], origins: c[1] };
        cols.set(colKey(i, c[0]), entry);
        list.push(c[0]);
        c[1].forEach(function (o) {
          var k = colKey(o[0], o[1]);
          if (!down.has(k)) down.set(k, []);
          down.get(k).push([i, c[0], o[2]]);
        });
      });
      byNode.set(i, { cols: list, complete: !!r[2] });
    });
    LIN = { cols: cols, byNode: byNode, down: down };
    return LIN;
  }
  /* Breadth-first walk over column edges; returns edges {from, to, kind, depth}. */
  function walkColumns(start, dir) {
    var L = lineage(), out = [], seen = new Set([colKey(start.i, start.name)]), queue = [[start, 0]];
    while (queue.length) {
      var item = queue.shift(), at = item[0], depth = item[1];
      var next = [];
      if (dir === 'up') {
        var c = L.cols.get(colKey(at.i, at.name));
        (c ? c.origins : []).forEach(function (o) { next.push([{ i: o[0], name: o[1] }, o[2]]); });
      } else {
        (L.down.get(colKey(at.i, at.name)) || []).forEach(function (d) { next.push([{ i: d[0], name: d[1] }, d[2]]); });
      }
      next.forEach(function (nx) {
        var other = nx[0];
        out.push(dir === 'up'
          ? { from: other, to: at, kind: nx[1], depth: depth + 1 }
          : { from: at, to: other, kind: nx[1], depth: depth + 1 });
        var k = colKey(other.i, other.name);
        if (!seen.has(k)) { seen.add(k); queue.push([other, depth + 1]); }
      });
    }
    return out;
  }

  /* ---------- selector syntax ---------- */
  function glob(pattern) {
    var re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    return new RegExp('^' + re + '$', 'i');
  }
  function matcher(method, value) {
    var g = glob(value);
    switch (method) {
      case 'tag': return function (n) { return n.tags.some(function (t) { return g.test(t); }); };
      case 'resource_type': return function (n) { return n.type === value; };
      case 'package': return function (n) { return g.test(n.pkg); };
      case 'config.materialized': return function (n) { return n.mat === value; };
      case 'source': return function (n) {
        return n.type === 'source' && (g.test(n.source) || g.test(n.source + '.' + n.name) || g.test(n.pkg + '.' + n.source + '.' + n.name));
      };
      case 'exposure': return function (n) { return n.type === 'exposure' && g.test(n.name); };
      case 'path': {
        var p = value.replace(/^\.\//, '').replace(/\/+$/, '');
        var pg = glob(p);
        return function (n) { return pg.test(n.path) || n.path.indexOf(p + '/') === 0; };
      }
      case 'fqn': return function (n) { return g.test(n.fqn) || n.fqn.indexOf(value + '.') === 0; };
      case '': return function (n) {
        // As in dbt, a bare name never means a source (that is `source:`).
        if (n.type === 'source') return false;
        return g.test(n.name) || g.test(n.fqn) || (value.indexOf('.') > 0 && n.fqn.indexOf(value + '.') === 0) ||
          (value.indexOf('/') >= 0 && (n.path === value || n.path.indexOf(value.replace(/\/+$/, '') + '/') === 0));
      };
      default: return null;
    }
  }
  function walk(start, dir, depth) {
    var out = new Set(), frontier = Array.from(start), d = 0;
    while (frontier.length && (depth === null || d < depth)) {
      var next = [];
      frontier.forEach(function (i) {
        (dir === 'up' ? NODES[i].parents : NODES[i].children).forEach(function (j) {
          if (!out.has(j)) { out.add(j); next.push(j); }
        });
      });
      frontier = next; d++;
    }
    return out;
  }
  /* Returns {nodes: Set of indices} or {error: message}. Space is union,
   * comma is intersection; each atom is [@][n+]method:value[+n]. */
  function select(text) {
    var union = new Set(), terms = text.trim().split(/\s+/).filter(Boolean);
    if (!terms.length) return { nodes: new Set(NODES.map(function (n) { return n.i; })) };
    for (var t = 0; t < terms.length; t++) {
      var inter = null, atoms = terms[t].split(',');
      for (var a = 0; a < atoms.length; a++) {
        var m = /^(@)?(?:(\d*)\+)?(.+?)(?:\+(\d*))?$/.exec(atoms[a]);
        if (!m) return { error: 'cannot read `' + atoms[a] + '`' };
        var body = m[3], colon = body.indexOf(':'), method = '', value = body;
        if (colon > 0) { method = body.slice(0, colon); value = body.slice(colon + 1); }
        var f = matcher(method, value);
        if (!f) return { error: 'unknown selector method `' + method + ':`' };
        var base = new Set();
        NODES.forEach(function (n) { if (f(n)) base.add(n.i); });
        var set = new Set(base);
        var upDepth = m[2] === undefined ? undefined : (m[2] === '' ? null : +m[2]);
        var downDepth = m[4] === undefined ? undefined : (m[4] === '' ? null : +m[4]);
        if (m[1]) {
          walk(base, 'down', null).forEach(function (i) { set.add(i); });
          walk(set, 'up', null).forEach(function (i) { set.add(i); });
        } else {
          if (upDepth !== undefined) walk(base, 'up', upDepth).forEach(function (i) { set.add(i); });
          if (downDepth !== undefined) walk(base, 'down', downDepth).forEach(function (i) { set.add(i); });
        }
        if (inter === null) inter = set;
        else inter = new Set(Array.from(inter).filter(function (i) { return set.has(i); }));
      }
      inter.forEach(function (i) { union.add(i); });
    }
    return { nodes: union };
  }

  /* ---------- pan and zoom ---------- */
  function panZoom(svg, root, bounds) {
    var st = { x: 0, y: 0, k: 1 }, drag = null, moved = false;
    function apply() { root.setAttribute('transform', 'translate(' + st.x + ',' + st.y + ') scale(' + st.k + ')'); }
    function fit() {
      var r = svg.getBoundingClientRect(), W = r.width || 800, H = r.height || 600;
      var k = Math.min((W - 40) / Math.max(bounds.w, 1), (H - 40) / Math.max(bounds.h, 1), 1.25);
      k = Math.max(k, 0.05);
      st.k = k; st.x = (W - bounds.w * k) / 2; st.y = (H - bounds.h * k) / 2;
      apply();
    }
    svg.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var r = svg.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
      var k = Math.min(4, Math.max(0.03, st.k * Math.exp(-ev.deltaY * 0.0015)));
      st.x = mx - (mx - st.x) * k / st.k; st.y = my - (my - st.y) * k / st.k; st.k = k;
      apply();
    }, { passive: false });
    svg.addEventListener('pointerdown', function (ev) {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, sx: st.x, sy: st.y }; moved = false;
    });
    window.addEventListener('pointermove', function (ev) {
      if (!drag) return;
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) > 4) { moved = true; svg.classList.add('dragging'); }
      if (moved) { st.x = drag.sx + dx; st.y = drag.sy + dy; apply(); }
    });
    window.addEventListener('pointerup', function () { drag = null; svg.classList.remove('dragging'); });
    return { fit: fit, moved: function () { return moved; }, zoom: function (f) { st.k *= f; apply(); } };
  }

  function bezier(x1, y1, x2, y2) {
    var dx = Math.max(30, (x2 - x1) / 2);
    return 'M' + x1 + ',' + y1 + 'C' + (x1 + dx) + ',' + y1 + ' ' + (x2 - dx) + ',' + y2 + ' ' + x2 + ',' + y2;
  }
  var measure = document.createElement('canvas').getContext('2d');
  /* Width of a label in the graph's font; `weight` 600 for titles. */
  function textWidth(str, size, weight, mono) {
    measure.font = (weight || 400) + ' ' + size + 'px ' + (mono ? 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace' : 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif');
    return measure.measureText(str).width;
  }

  /* ---------- the model graph ---------- */
  function drawGraph(host, ids, onSelect) {
    var set = new Set(ids), g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 64, marginx: 24, marginy: 24 });
    g.setDefaultEdgeLabel(function () { return {}; });
    ids.forEach(function (i) {
      var n = NODES[i];
      g.setNode(String(i), { width: Math.min(300, Math.max(130, textWidth(clip(label(n), 34), 12.5) + 32)), height: 40 });
    });
    var edges = [];
    ids.forEach(function (i) {
      NODES[i].parents.forEach(function (p) { if (set.has(p)) { edges.push([p, i]); g.setEdge(String(p), String(i)); } });
    });
    dagre.layout(g);
    var gr = g.graph();
    var svg = s('svg', { 'aria-label': 'Lineage graph' }), root = s('g'), edgeLayer = s('g'), nodeLayer = s('g');
    root.appendChild(edgeLayer); root.appendChild(nodeLayer); svg.appendChild(root);
    var defs = s('defs'), marker = s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.appendChild(s('path', { d: 'M0,0L10,5L0,10z', fill: '#9aa6b4' }));
    defs.appendChild(marker); svg.insertBefore(defs, root);
    var edgeEls = edges.map(function (e) {
      var a = g.node(String(e[0])), b = g.node(String(e[1]));
      var p = s('path', { class: 'edge', d: bezier(a.x + a.width / 2, a.y, b.x - b.width / 2 - 2, b.y), 'marker-end': 'url(#arrow)' });
      p.setAttribute('data-from', NODES[e[0]].id); p.setAttribute('data-to', NODES[e[1]].id);
      edgeLayer.appendChild(p);
      return { el: p, from: e[0], to: e[1] };
    });
    var nodeEls = new Map();
    ids.forEach(function (i) {
      var n = NODES[i], L = g.node(String(i)), x = L.x - L.width / 2, y = L.y - L.height / 2;
      var el = s('g', { class: 'node t-' + n.type, transform: 'translate(' + x + ',' + y + ')' });
      el.setAttribute('data-id', n.id);
      el.appendChild(s('rect', { class: 'box', width: L.width, height: L.height, rx: 7 }));
      el.appendChild(s('rect', { class: 'stripe', width: 5, height: L.height, rx: 2 }));
      el.appendChild(stext(14, 17, clip(label(n), 34)));
      el.appendChild(stext(14, 31, n.type + (n.mat && n.type === 'model' ? ' · ' + n.mat : ''), 'sub'));
      var title = s('title'); title.textContent = n.id; el.appendChild(title);
      nodeLayer.appendChild(el);
      nodeEls.set(i, el);
    });
    clear(host).appendChild(svg);
    var pz = panZoom(svg, root, { w: gr.width || 100, h: gr.height || 100 });
    pz.fit();

    function highlight(i) {
      if (i === null || i === undefined) {
        nodeEls.forEach(function (el) { el.classList.remove('sel', 'up', 'down', 'dim'); });
        edgeEls.forEach(function (e) { e.el.classList.remove('hl', 'up', 'down', 'dim'); });
        return;
      }
      var up = new Set(), down = new Set(), stack = [i];
      while (stack.length) {
        var a = stack.pop();
        NODES[a].parents.forEach(function (p) { if (set.has(p) && !up.has(p)) { up.add(p); stack.push(p); } });
      }
      stack = [i];
      while (stack.length) {
        var b = stack.pop();
        NODES[b].children.forEach(function (c) { if (set.has(c) && !down.has(c)) { down.add(c); stack.push(c); } });
      }
      nodeEls.forEach(function (el, j) {
        el.classList.toggle('sel', j === i);
        el.classList.toggle('up', up.has(j));
        el.classList.toggle('down', down.has(j));
        el.classList.toggle('dim', j !== i && !up.has(j) && !down.has(j));
      });
      edgeEls.forEach(function (e) {
        var isUp = (up.has(e.from) || e.from === i) && (up.has(e.to) || e.to === i) && e.from !== i;
        var isDown = (down.has(e.from) || e.from === i) && (down.has(e.to) || e.to === i) && e.to !== i;
        e.el.classList.toggle('hl', isUp || isDown);
        e.el.classList.toggle('up', isUp);
        e.el.classList.toggle('down', isDown);
        e.el.classList.toggle('dim', !isUp && !isDown);
      });
    }
    nodeEls.forEach(function (el, i) {
      el.addEventListener('click', function (ev) {
        ev.stopPropagation();
        if (pz.moved()) return;
        onSelect(i);
      });
      el.addEventListener('dblclick', function () { location.hash = nodeHref(NODES[i]).slice(1); });
    });
    svg.addEventListener('click', function () { if (!pz.moved()) onSelect(null); });
    return { highlight: highlight, fit: pz.fit, count: ids.length, edges: edges.length };
  }

  function legend(types) {
    return h('div', { class: 'legend' }, types.map(function (t) { return h('span', null, typeDot(t), t); }));
  }

  /* ---------- views ---------- */
  var main = document.getElementById('main');
  var current = null;

  function setNav(which) {
    document.querySelectorAll('#top-links a').forEach(function (a) { a.classList.toggle('on', a.getAttribute('data-nav') === which); });
  }

  function overview() {
    setNav('overview');
    var counts = META.counts || {};
    var order = ['model', 'source', 'seed', 'snapshot', 'test', 'exposure', 'analysis'];
    var drawable = NODES.filter(function (n) { return n.type !== 'test'; }).length;
    var page = h('div', { class: 'page' },
      h('div', { class: 'crumbs' }, 'Project'),
      h('h1', { text: META.project }),
      h('p', { class: 'note' },
        'Generated ' + META.generated_at + ' by xform ' + META.xform_version + ' for ' + META.adapter + '. ',
        META.catalog === 'warehouse' ? 'Column types come from the warehouse.' :
          'Column types were inferred from the SQL (no warehouse was read).'),
      h('div', { class: 'stats' }, order.filter(function (t) { return counts[t]; }).map(function (t) {
        return h('div', { class: 'stat' }, h('div', { class: 'n', text: fmt(counts[t]) }),
          h('div', { class: 'l' }, typeDot(t), t === 'analysis' ? 'analyses' : t + 's'));
      })),
      h('div', { class: 'links' },
        h('a', { class: 'btn primary', href: '#graph' }, drawable > MAX_DRAW ? 'Explore the graph' : 'Open the lineage graph'),
        h('span', { class: 'note' }, 'Click a node to highlight its lineage; click a column on a page to trace it.')),
      h('h2', { text: 'Selector syntax' }),
      selectorHelp());
    var exposures = NODES.filter(function (n) { return n.type === 'exposure'; });
    if (exposures.length) add(page, [h('h2', { text: 'Exposures' }), h('div', { class: 'links' }, exposures.slice(0, 200).map(nodeLink))]);
    clear(main).appendChild(page);
  }

  function selectorHelp() {
    var rows = [
      ['orders', 'a node by name (globs: stg_*), or a folder / fqn prefix (shop.marts)'],
      ['+orders', 'orders and everything upstream (2+orders: two levels)'],
      ['orders+', 'orders and everything downstream (orders+1: one level)'],
      ['@orders', 'orders, its descendants and their ancestors'],
      ['tag:nightly', 'nodes with a tag'],
      ['path:models/marts', 'nodes under a folder or a file'],
      ['resource_type:seed', 'model, seed, snapshot, source, exposure, test, analysis'],
      ['source:stripe', 'a source, or source:stripe.payments'],
      ['package:shop, fqn:…, config.materialized:table', 'more methods'],
      ['a b', 'union (space); a,b is an intersection (comma)']
    ];
    return h('table', { class: 'grid help' }, h('tbody', null, rows.map(function (r) {
      return h('tr', null, h('td', { text: r[0] }), h('td', { text: r[1] }));
    })));
  }

  function graphView(params) {
    setNav('graph');
    var sel = params.get('select') || '';
    var showTests = params.get('tests') === '1';
    var focus = params.get('focus') ? BY_ID.get(params.get('focus')) : null;
    var input = h('input', { type: 'text', value: sel, placeholder: 'Selector, e.g. +orders tag:daily path:models/marts', 'aria-label': 'Selector', spellcheck: 'false' });
    var tests = h('input', { type: 'checkbox' }); tests.checked = showTests;
    function go() {
      location.hash = 'graph&select=' + encodeURIComponent(input.value.trim()) + (tests.checked ? '&tests=1' : '');
    }
    input.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') go(); });
    tests.addEventListener('change', go);
    var summary = h('span', { class: 'summary' });
    var fitBtn = h('button', { class: 'btn', type: 'button', text: 'Fit' });
    var canvas = h('div', { class: 'canvas' });
    var view = h('div', { class: 'graph-view' },
      h('div', { class: 'toolbar' }, input,
        h('button', { class: 'btn primary', type: 'button', text: 'Apply', on: { click: go } }),
        h('label', null, tests, 'tests'), fitBtn, summary),
      canvas);
    clear(main).appendChild(view);

    var result = select(sel);
    if (result.error) {
      canvas.appendChild(h('div', { class: 'card empty-state' }, h('h2', { text: 'Selector error' }), h('p', { text: result.error }), selectorHelp()));
      return;
    }
    var ids = Array.from(result.nodes).filter(function (i) {
      var t = NODES[i].type;
      return showTests || (t !== 'test' || /resource_type:test/.test(sel));
    }).sort(function (a, b) { return a - b; });
    if (!ids.length) {
      summary.textContent = 'nothing selected';
      canvas.appendChild(h('div', { class: 'card empty-state' }, h('h2', { text: 'Nothing matches' }), h('p', { text: 'The selector matched no node.' }), selectorHelp()));
      return;
    }
    if (ids.length > MAX_DRAW) {
      summary.textContent = fmt(ids.length) + ' nodes selected';
      canvas.appendChild(h('div', { class: 'card empty-state' },
        h('h2', { text: fmt(ids.length) + ' nodes: too many to draw at once' }),
        h('p', null, 'The graph draws up to ' + MAX_DRAW + ' nodes. Narrow the selection, e.g. ',
          h('code', { text: '+' + NODES[ids[ids.length - 1]].name + '+' }), ', a folder with ', h('code', { text: 'path:' }), ' or a ', h('code', { text: 'tag:' }), '. Or search for a node and open its lineage.'),
        h('p', { class: 'note', text: 'Some of the selected nodes:' }),
        h('div', { class: 'links' }, ids.slice(0, 60).map(function (i) { return nodeLink(NODES[i]); })),
        h('h2', { text: 'Selector syntax' }), selectorHelp()));
      return;
    }
    var info = h('div', { class: 'info', hidden: true });
    var types = Array.from(new Set(ids.map(function (i) { return NODES[i].type; })));
    var drawn = drawGraph(canvas, ids, function (i) {
      drawn.highlight(i);
      showInfo(i);
    });
    canvas.appendChild(legend(types));
    canvas.appendChild(info);
    summary.textContent = fmt(drawn.count) + ' nodes · ' + fmt(drawn.edges) + ' edges';
    fitBtn.addEventListener('click', drawn.fit);
    function showInfo(i) {
      if (i === null || i === undefined) { info.hidden = true; current.selected = null; return; }
      current.selected = NODES[i].id;
      var token = routeToken;
      loadDetails([i]).then(function () { if (token === routeToken && current.selected === NODES[i].id) fillInfo(i); });
    }
    function fillInfo(i) {
      var n = NODES[i], d = details(i);
      clear(info);
      add(info, [
        h('div', null, badge(n.type), n.mat && n.type === 'model' ? ' ' : '', n.mat && n.type === 'model' ? h('span', { class: 'tag', text: n.mat }) : null),
        h('h3', { text: label(n) }),
        h('div', { class: 'desc' + (d.desc ? '' : ' empty'), text: d.desc ? clip(d.desc, 600) : 'No description.' }),
        h('div', { class: 'row' },
          h('a', { class: 'btn primary', href: nodeHref(n), text: 'Open page' }),
          h('a', { class: 'btn', href: graphHref('+' + selName(n) + '+', n), text: 'Only its lineage' }))
      ]);
      info.hidden = false;
    }
    current.graph = drawn;
    if (focus && ids.indexOf(focus.i) >= 0) { drawn.highlight(focus.i); showInfo(focus.i); }
  }
  function selName(n) { return n.type === 'source' ? 'source:' + n.source + '.' + n.name : n.name; }

  /* ---------- SQL, safely highlighted ---------- */
  var KW = new Set(('select from where join left right inner outer full cross on using group by order having limit offset as with union all ' +
    'distinct case when then else end and or not in is null like between exists insert into update delete create table view replace ' +
    'qualify window over partition rows range unbounded preceding following current row cast interval true false asc desc except intersect ' +
    'lateral natural values set materialized recursive returning filter within').split(' '));
  function sqlCode(text) {
    var pre = h('pre', { class: 'code' }), code = h('code');
    pre.appendChild(code);
    var re = /(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\})|(--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^']|'')*')|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)/g;
    var last = 0, m, frag = document.createDocumentFragment();
    function span(cls, t) { var e = document.createElement('span'); e.className = cls; e.textContent = t; frag.appendChild(e); }
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1]) span('k-jin', m[1]);
      else if (m[2]) span('k-com', m[2]);
      else if (m[3]) span('k-str', m[3]);
      else if (m[4]) span('k-num', m[4]);
      else if (KW.has(m[5].toLowerCase())) span('k-kw', m[5]);
      else frag.appendChild(document.createTextNode(m[5]));
      last = re.lastIndex;
    }
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    code.appendChild(frag);
    return pre;
  }

  function fact(k, v, wide) {
    if (v === null || v === undefined || v === '') return null;
    var val = typeof v === 'string' ? h('div', { class: 'v', text: v, title: v }) : h('div', { class: 'v' }, v);
    return h('div', { class: 'fact' + (wide ? ' wide' : '') }, h('div', { class: 'k', text: k }), val);
  }
  function ownerText(o) {
    if (!o) return null;
    if (typeof o === 'string') return o;
    if (typeof o === 'object') return [o.name, o.email].filter(Boolean).join(' · ') || null;
    return String(o);
  }

  function nodePage(n) {
    setNav('');
    var token = routeToken;
    loadDetails([n.i]).then(function () { if (token === routeToken) renderNodePage(n); });
  }
  function renderNodePage(n) {
    var d = details(n.i);
    var page = h('div', { class: 'page' });
    var crumbs = h('div', { class: 'crumbs' }, badge(n.type), h('span', { text: n.pkg }), h('span', { text: '·' }), h('span', { class: 'mono', text: n.path }));
    add(page, [crumbs, h('h1', { id: 'node-title', text: label(n) })]);
    if (n.tags.length) add(page, h('div', null, n.tags.map(function (t) { return h('span', { class: 'tag', text: t }); })));
    add(page, h('div', { id: 'node-desc', class: 'desc' + (d.desc ? '' : ' empty'), text: d.desc || 'No description.' }));
    var rel = d.relation_type || {};
    add(page, h('div', { class: 'facts' },
      fact('Relation', d.relation || null, true),
      fact('Materialized', n.type === 'model' || n.type === 'snapshot' ? n.mat : null),
      fact('Warehouse type', rel.type || null),
      fact('Owner', ownerText(d.owner) || rel.owner || null),
      fact('Unique id', n.id, true),
      d.source ? fact('Loader', d.source.loader || null) : null,
      d.exposure ? fact('Exposure type', d.exposure.type || null) : null,
      d.exposure ? fact('Maturity', d.exposure.maturity || null) : null,
      d.exposure && d.exposure.url ? fact('URL', d.exposure.url) : null));

    if (d.test) {
      var attached = d.test.attached !== undefined && d.test.attached !== null ? NODES[d.test.attached] : null;
      add(page, [h('h2', { text: 'Test' }), h('div', { class: 'facts' },
        fact('Test', d.test.name || 'singular test'),
        fact('On', attached ? nodeLink(attached) : null),
        fact('Column', d.test.column || null))]);
    }

    var cols = d.cols || [];
    if (cols.length || ['model', 'seed', 'snapshot', 'source'].indexOf(n.type) >= 0) {
      add(page, h('h2', { text: 'Columns' }));
      if (!cols.length) add(page, h('p', { class: 'note', text: 'No columns are known: document them in YAML, or build the model and generate the docs again.' }));
      else {
        var hasLineage = n.type !== 'test';
        var tbody = h('tbody');
        cols.forEach(function (c) {
          var testsCell = h('td', null, (c[3] || []).map(function (ti) {
            var t = NODES[ti];
            return h('a', { class: 'tag', href: nodeHref(t), text: t.testName || 'test', title: t.name });
          }));
          var tr = h('tr', { class: 'col-row', 'data-col': c[0], title: 'Trace the lineage of ' + c[0] },
            h('td', { class: 'mono', text: c[0] }),
            h('td', null, h('span', { class: 'typ' + (c[4] === 'i' ? ' inferred' : ''), text: c[1] || '' })),
            h('td', { class: 'desc-cell', text: c[2] || '' }),
            testsCell,
            h('td', null, hasLineage ? h('a', { class: 'lin-link', href: lineageHref(n, c[0]), text: 'lineage →' }) : null));
          tr.addEventListener('click', function (ev) {
            if (ev.target.closest('a')) return;
            location.hash = lineageHref(n, c[0]).slice(1);
          });
          tbody.appendChild(tr);
        });
        add(page, h('table', { class: 'grid' }, h('thead', null, h('tr', null,
          h('th', { text: 'Column' }), h('th', { text: 'Type' }), h('th', { text: 'Description' }), h('th', { text: 'Tests' }), h('th'))), tbody));
        if (!d.complete && n.type === 'model') add(page, h('p', { class: 'note', text: 'These columns may be incomplete: part of the query could not be analysed.' }));
      }
    }

    var parents = n.parents.map(function (i) { return NODES[i]; }).filter(function (p) { return p.type !== 'test'; });
    var children = n.children.map(function (i) { return NODES[i]; }).filter(function (c) { return c.type !== 'test'; });
    add(page, [h('h2', { text: 'Lineage' }),
      h('div', { class: 'split' },
        h('div', null, h('div', { class: 'note', text: 'Depends on' }), parents.length ? h('div', { class: 'links' }, parents.map(nodeLink)) : h('div', { class: 'note', text: 'nothing' })),
        h('div', null, h('div', { class: 'note', text: 'Referenced by' }), children.length ? h('div', { class: 'links' }, children.map(nodeLink)) : h('div', { class: 'note', text: 'nothing' }))),
      h('p', null, h('a', { class: 'btn', href: graphHref('+' + selName(n) + '+', n), text: 'Show in the graph' }))]);

    var tests = (d.tests || []).map(function (i) { return NODES[i]; });
    if (tests.length) add(page, [h('h2', { text: 'Data tests (' + tests.length + ')' }), h('div', { class: 'links' }, tests.slice(0, 300).map(nodeLink))]);

    if (d.raw || d.sql) {
      var box = h('div');
      var tabs = h('div', { class: 'tabs' });
      var which = d.sql ? 'sql' : 'raw';
      var render = function () {
        clear(tabs);
        [['sql', 'Compiled'], ['raw', 'Source']].forEach(function (t) {
          if (!d[t[0]]) return;
          tabs.appendChild(h('button', { type: 'button', class: which === t[0] ? 'on' : '', text: t[1], on: { click: function () { which = t[0]; render(); } } }));
        });
        if (box.childNodes.length > 1) box.removeChild(box.lastChild);
        box.appendChild(sqlCode(d[which]));
      };
      box.appendChild(tabs);
      render();
      add(page, [h('h2', { text: 'Code' }), box]);
    }
    if (d.config) add(page, [h('h2', { text: 'Config' }), h('pre', { class: 'json', text: JSON.stringify(d.config, null, 2) })]);
    if (d.meta) add(page, [h('h2', { text: 'Meta' }), h('pre', { class: 'json', text: JSON.stringify(d.meta, null, 2) })]);
    clear(main).appendChild(page);
    main.scrollTop = 0;
    markActive(n);
  }

  /* ---------- column lineage ---------- */
  function lineagePage(n, colName) {
    setNav('');
    var token = routeToken;
    loadLineage().then(function () {
      if (token !== routeToken) return;
      var L = lineage();
      var entry = L.cols.get(colKey(n.i, colName));
      var start = { i: n.i, name: entry ? entry.name : colName };
      var up = walkColumns(start, 'up'), down = walkColumns(start, 'down');
      var involved = [n.i];
      up.concat(down).forEach(function (e) { involved.push(e.from.i, e.to.i); });
      return loadDetails(involved).then(function () {
        if (token === routeToken) renderLineagePage(n, entry, start, up, down);
      });
    });
  }
  function renderLineagePage(n, entry, start, up, down) {
    var L = lineage();
    var col = start.name;
    var head = h('div', { class: 'lineage-head' },
      badge(n.type), h('h1', null, 'Column lineage of ', h('a', { href: nodeHref(n), text: label(n) }), '.', h('span', { class: 'col', text: col })),
      h('span', { class: 'summary note', text: up.length + ' upstream · ' + down.length + ' downstream edges' }));
    var canvas = h('div', { class: 'canvas' });
    var below = h('div', { class: 'below' });
    var pageEl = h('div', { class: 'lineage-page' }, head, canvas, below);
    clear(main).appendChild(pageEl);
    if (!entry) {
      add(below, h('p', { class: 'note', text: 'The columns of ' + label(n) + ' are not known to lineage (its SQL could not be analysed, or it is not a model, seed, snapshot or source).' }));
    }
    function list(title, edges, dir) {
      var seen = new Set(), items = [];
      edges.forEach(function (e) {
        var c = dir === 'up' ? e.from : e.to, k = colKey(c.i, c.name);
        if (seen.has(k)) return;
        seen.add(k);
        items.push({ c: c, kind: e.kind, depth: e.depth });
      });
      var ul = h('ul', { class: 'lin-list card', id: dir === 'up' ? 'upstream-columns' : 'downstream-columns' });
      items.forEach(function (it) {
        var m = NODES[it.c.i];
        ul.appendChild(h('li', { 'data-node-id': m.id, 'data-col': label(m) + '.' + it.c.name },
          typeDot(m.type), h('a', { href: lineageHref(m, it.c.name) }, label(m) + '.', h('b', { text: it.c.name })),
          h('span', { class: 'via', text: (it.kind ? 'transformed' : 'direct') + ' · ' + (it.depth === 1 ? 'direct parent' : it.depth + ' steps') })));
      });
      if (!items.length) ul.appendChild(h('li', { class: 'note', text: 'none known' }));
      return h('div', null, h('h2', { text: title + ' (' + items.length + ')' }), ul);
    }
    add(below, h('div', { class: 'split' }, list('Upstream columns', up, 'up'), list('Downstream columns', down, 'down')));

    // The drawing: every node on the way, with the columns on the way.
    var colsOf = new Map();
    function note(c) {
      if (!colsOf.has(c.i)) colsOf.set(c.i, new Set());
      colsOf.get(c.i).add(c.name.toLowerCase());
    }
    note(start);
    up.concat(down).forEach(function (e) { note(e.from); note(e.to); });
    if (colsOf.size > MAX_DRAW) { canvas.appendChild(h('div', { class: 'card empty-state', text: 'Too many nodes to draw; see the lists below.' })); return; }
    var g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 26, ranksep: 110, marginx: 30, marginy: 30 });
    g.setDefaultEdgeLabel(function () { return {}; });
    var ROW = 24, HEAD = 34, rows = new Map();
    colsOf.forEach(function (set, i) {
      var m = NODES[i];
      var known = L.byNode.has(i) ? L.byNode.get(i).cols : [];
      var ordered = known.filter(function (c) { return set.has(c.toLowerCase()); });
      set.forEach(function (c) { if (!ordered.some(function (o) { return o.toLowerCase() === c; })) ordered.push(c); });
      rows.set(i, ordered);
      var types = new Map((details(i).cols || []).map(function (c) { return [c[0].toLowerCase(), c[1] || '']; }));
      var w = Math.max(textWidth(clip(label(m), 40), 12.5, 600) + textWidth(m.type, 11, 400, true) + 40,
        Math.max.apply(null, ordered.map(function (c) { return textWidth(clip(c, 34), 12.5) + textWidth(clip(types.get(c.toLowerCase()) || '', 16), 11, 400, true) + 44; })));
      g.setNode(String(i), { width: Math.min(420, Math.max(170, w)), height: HEAD + ordered.length * ROW + 6 });
    });
    var pairs = new Set();
    up.concat(down).forEach(function (e) {
      var k = e.from.i + '>' + e.to.i;
      if (e.from.i !== e.to.i && !pairs.has(k)) { pairs.add(k); g.setEdge(String(e.from.i), String(e.to.i)); }
    });
    dagre.layout(g);
    var gr = g.graph(), svg = s('svg', { 'aria-label': 'Column lineage' }), root = s('g'), edgeLayer = s('g');
    svg.appendChild(root); root.appendChild(edgeLayer);
    function rowY(i, name) {
      var L2 = g.node(String(i)), idx = rows.get(i).findIndex(function (c) { return c.toLowerCase() === name.toLowerCase(); });
      return L2.y - L2.height / 2 + HEAD + idx * ROW + ROW / 2;
    }
    colsOf.forEach(function (set, i) {
      var m = NODES[i], L2 = g.node(String(i)), x = L2.x - L2.width / 2, y = L2.y - L2.height / 2;
      var el = s('g', { class: 'cnode t-' + m.type, transform: 'translate(' + x + ',' + y + ')' });
      el.setAttribute('data-id', m.id);
      el.appendChild(s('rect', { class: 'box', width: L2.width, height: L2.height, rx: 8 }));
      el.appendChild(s('rect', { class: 'head', x: 1, y: 1, width: L2.width - 2, height: HEAD - 4, rx: 7 }));
      el.appendChild(s('rect', { class: 'stripe', width: 5, height: L2.height, rx: 2 }));
      el.appendChild(stext(14, 20, clip(label(m), 40), 'title'));
      el.appendChild(stext(L2.width - 10, 20, m.type, 'ty')).setAttribute('text-anchor', 'end');
      var types = new Map((details(i).cols || []).map(function (c) { return [c[0].toLowerCase(), c[1]]; }));
      rows.get(i).forEach(function (c, r) {
        var row = s('g', { class: 'crow', transform: 'translate(0,' + (HEAD + r * ROW) + ')' });
        row.setAttribute('data-col', c);
        if (i === start.i && c.toLowerCase() === start.name.toLowerCase()) row.classList.add('start');
        row.appendChild(s('rect', { class: 'rowbg', x: 6, y: 1, width: L2.width - 12, height: ROW - 2, rx: 4 }));
        row.appendChild(stext(14, 16, clip(c, 34)));
        var ty = types.get(c.toLowerCase());
        if (ty) row.appendChild(stext(L2.width - 10, 16, clip(ty, 16), 'ty')).setAttribute('text-anchor', 'end');
        row.addEventListener('click', function (ev) { ev.stopPropagation(); location.hash = lineageHref(m, c).slice(1); });
        el.appendChild(row);
      });
      root.appendChild(el);
    });
    var drawnEdges = new Set();
    up.concat(down).forEach(function (e) {
      var k = colKey(e.from.i, e.from.name) + '>' + colKey(e.to.i, e.to.name);
      if (drawnEdges.has(k)) return;
      drawnEdges.add(k);
      var a = g.node(String(e.from.i)), b = g.node(String(e.to.i));
      var p = s('path', { class: 'cedge' + (e.kind ? ' transformed' : ''), d: bezier(a.x + a.width / 2, rowY(e.from.i, e.from.name), b.x - b.width / 2, rowY(e.to.i, e.to.name)) });
      edgeLayer.appendChild(p);
    });
    canvas.appendChild(svg);
    var pz = panZoom(svg, root, { w: gr.width || 100, h: gr.height || 100 });
    pz.fit();
    canvas.appendChild(h('div', { class: 'legend' }, h('span', { text: '── direct (copied or renamed)' }), h('span', { text: '- - transformed (expression, aggregate, join key…)' })));
    markActive(n);
  }

  /* ---------- sidebar tree ---------- */
  var side = document.getElementById('side');
  var treeRows = new Map();
  function buildTree() {
    var groups = [['model', 'Models'], ['source', 'Sources'], ['seed', 'Seeds'], ['snapshot', 'Snapshots'], ['exposure', 'Exposures'], ['analysis', 'Analyses'], ['test', 'Data tests']];
    groups.forEach(function (gdef) {
      var members = NODES.filter(function (n) { return n.type === gdef[0]; });
      if (!members.length) return;
      var folder = { name: gdef[1], dirs: new Map(), leaves: [], count: 0 };
      members.forEach(function (n) {
        var parts;
        if (n.type === 'source') parts = [n.source];
        else if (n.type === 'test' || n.type === 'exposure') parts = [];
        else parts = n.path.split('/').slice(1, -1);
        var f = folder;
        f.count++;
        parts.forEach(function (p) {
          if (!f.dirs.has(p)) f.dirs.set(p, { name: p, dirs: new Map(), leaves: [], count: 0 });
          f = f.dirs.get(p); f.count++;
        });
        f.leaves.push(n);
      });
      var wrap = h('div', { class: 'tree-group' });
      side.appendChild(wrap);
      renderFolder(wrap, folder, true, gdef[0] !== 'test');
    });
  }
  function renderFolder(host, f, top, open) {
    var row = h('div', { class: 'tree-row' + (top ? ' tree-head' : '') }, h('span', { class: 'chev', text: '▸' }), h('span', { text: f.name }), h('span', { class: 'count', text: fmt(f.count) }));
    var kids = h('div', { class: 'tree-children', hidden: true });
    var built = false;
    function toggle(force) {
      var willOpen = force === undefined ? kids.hidden : force;
      if (willOpen && !built) {
        built = true;
        var dirs = Array.from(f.dirs.values()).sort(function (a, b) { return a.name.localeCompare(b.name); });
        dirs.forEach(function (d) { renderFolder(kids, d, false, f.count <= 60); });
        var leaves = f.leaves.slice().sort(function (a, b) { return a.name.localeCompare(b.name); });
        leaves.slice(0, MAX_TREE).forEach(function (n) {
          var a = h('a', { class: 'tree-row', href: nodeHref(n), title: n.id }, typeDot(n.type), h('span', { text: label(n) }));
          treeRows.set(n.id, a);
          kids.appendChild(a);
        });
        if (leaves.length > MAX_TREE) kids.appendChild(h('div', { class: 'tree-more', text: fmt(leaves.length - MAX_TREE) + ' more: use search' }));
      }
      kids.hidden = !willOpen;
      row.classList.toggle('open', willOpen);
    }
    row.addEventListener('click', function () { toggle(); });
    host.appendChild(row);
    host.appendChild(kids);
    if (open) toggle(true);
  }
  var activeRow = null;
  function markActive(n) {
    if (activeRow) activeRow.classList.remove('active');
    activeRow = treeRows.get(n.id) || null;
    if (activeRow) activeRow.classList.add('active');
  }

  /* ---------- search ---------- */
  var search = document.getElementById('search'), results = document.getElementById('search-results');
  var hits = [], active = 0;
  function runSearch() {
    var q = search.value.trim().toLowerCase();
    clear(results);
    if (!q) { results.hidden = true; return; }
    var scored = [];
    for (var k = 0; k < NODES.length; k++) {
      var n = NODES[k], at = n.lname.indexOf(q), score = -1;
      if (at === 0) score = n.lname.length === q.length ? 0 : 1;
      else if (at > 0) score = 2;
      else if (n.id.toLowerCase().indexOf(q) >= 0 || n.tags.indexOf(q) >= 0) score = 3;
      if (score >= 0) {
        if (n.type === 'test') score += 4;
        scored.push([score, n.name.length, n]);
      }
    }
    scored.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    hits = scored.slice(0, 40).map(function (x) { return x[2]; });
    active = 0;
    hits.forEach(function (n, idx) {
      var li = h('li', { class: idx === 0 ? 'active' : '' }, typeDot(n.type), h('span', { text: label(n) }), h('span', { class: 'where', text: n.path }));
      li.addEventListener('mousedown', function (ev) { ev.preventDefault(); openHit(n); });
      results.appendChild(li);
    });
    if (!hits.length) results.appendChild(h('li', { class: 'note', text: 'No match' }));
    if (scored.length > hits.length) results.appendChild(h('li', { class: 'note', text: fmt(scored.length - hits.length) + ' more matches' }));
    results.hidden = false;
  }
  function openHit(n) { results.hidden = true; search.blur(); location.hash = nodeHref(n).slice(1); }
  var timer = null;
  search.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(runSearch, 60); });
  search.addEventListener('keydown', function (ev) {
    var items = results.querySelectorAll('li');
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      if (!hits.length) return;
      active = (active + (ev.key === 'ArrowDown' ? 1 : hits.length - 1)) % hits.length;
      items.forEach(function (li, idx) { li.classList.toggle('active', idx === active); });
    } else if (ev.key === 'Enter' && hits[active]) openHit(hits[active]);
    else if (ev.key === 'Escape') { results.hidden = true; search.blur(); }
  });
  search.addEventListener('blur', function () { setTimeout(function () { results.hidden = true; }, 100); });
  document.addEventListener('keydown', function (ev) {
    if (ev.key === '/' && document.activeElement !== search && !/INPUT|TEXTAREA/.test(document.activeElement.tagName)) { ev.preventDefault(); search.focus(); }
  });

  /* ---------- routing ---------- */
  var routeToken = 0;
  function route() {
    routeToken++;
    var params = new URLSearchParams(location.hash.replace(/^#!?\/?/, ''));
    current = { selected: null, graph: null };
    var id = params.get('node'), lin = params.get('lineage');
    if (id !== null) {
      var n = BY_ID.get(id);
      if (n) return nodePage(n);
    } else if (lin !== null) {
      var m = BY_ID.get(lin);
      if (m) return lineagePage(m, params.get('col') || '');
    } else if (params.has('graph')) {
      return graphView(params);
    }
    overview();
  }
  document.getElementById('project-name').textContent = META.project;
  inflate(DATA.graph).then(function (g) {
    setGraph(g);
    buildTree();
    window.addEventListener('hashchange', route);
    route();
    /* For tests and benchmarks: when the first view was ready. */
    window.xformDocs = {
      nodes: NODES.length,
      readyMs: Math.round(performance.now()),
      selected: function () { return current && current.selected; },
      select: function (text) { var r = select(text); return r.error ? r : Array.from(r.nodes).map(function (i) { return NODES[i].id; }).sort(); }
    };
    document.documentElement.setAttribute('data-ready-ms', String(window.xformDocs.readyMs));
  }, function (err) {
    clear(main).appendChild(h('div', { class: 'page' }, h('h1', { text: 'This page cannot be shown' }),
      h('p', { text: 'The browser could not read the page\'s data (' + err + '). It needs DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or later.' })));
  });
})();
