// SPDX-License-Identifier: Apache-2.0
// board/js/pages/stage-hosts.js: the stage page's host list, read a page at a time from
// GET …/agents?limit=&after= (host name order) instead of one answer with every host of the stage (44 MB at
// 100,000 hosts). A stage of up to AUTO_ROWS hosts is read whole, page after page, and polled whole: the grid
// sorts, filters and maps all of it. A larger stage shows its first AUTO_ROWS hosts; more pages are read on demand
// (scrolling to the end of the table, or "Load more"), and a poll reads again only the pages of the rows in view.
import * as api from '../api.js';

export const PAGE = 1000;
export const AUTO_ROWS = 10000;
const SLACK = 100; // a page read again may have gained hosts: read a little more and clip at the next page's start

// One page: at most limit agent rows of the stage whose hostName sorts after `after` (null: from the first).
// failing: only the failing hosts (result neither SUCCEEDED nor UNKNOWN, or UNREACHABLE, or PAUSED_BY_SYSTEM).
export const hostPage = (base, after, limit, signal, failing = false) =>
  api.get(base + '/agents', { limit, after, failing: failing || null }, { signal });

// hostPager(base, {failing}) → {rows(), complete, loading, pageCount, loadInitial(signal, onFirst), loadMore(signal), refresh(signal, visibleNames)}
export function hostPager(base, { failing = false } = {}) {
  // pages[i] = {after, rows}: the rows whose hostName sorts after `after` (null: from the first), in name order;
  // page i ends where page i + 1 starts.
  let pages = [];
  const read = (after, limit, signal) => hostPage(base, after, limit, signal, failing);
  const lastName = () => { const l = pages[pages.length - 1]; return !l ? null : l.rows.length ? l.rows[l.rows.length - 1].hostName : l.after; };
  const count = () => pages.reduce((n, p) => n + p.rows.length, 0);
  const p = {
    failing,
    complete: false, // the last page read was short: every host of the stage (or every failing one) is loaded
    loading: false,
    rows: () => pages.flatMap(x => x.rows),
    get pageCount() { return pages.length; },
    // Reads pages from the first until the stage ends or more than AUTO_ROWS are loaded; onFirst() once the first page is
    // in (the page shows it while the others load); firstP: the first page, already requested. A poll of a small stage reads it again this way: the rows
    // shown change once, when every page is in.
    async loadInitial(signal, onFirst, firstP = null) {
      const fresh = [];
      let n = 0, done = false;
      do {
        const after = fresh.length ? fresh[fresh.length - 1].rows.at(-1).hostName : null;
        const rows = await (fresh.length === 0 && firstP ? firstP : read(after, PAGE, signal));
        fresh.push({ after, rows });
        n += rows.length;
        done = rows.length < PAGE;
        if (fresh.length === 1 && onFirst && !done) { pages = fresh.slice(); p.complete = false; onFirst(); }
      } while (!done && n <= AUTO_ROWS); // a stage of exactly AUTO_ROWS hosts ends with an empty page
      pages = fresh;
      p.complete = done;
    },
    // The next page after the loaded ones (once at a time); false when there is none.
    async loadMore(signal) {
      if (p.complete || p.loading) return false;
      p.loading = true;
      try {
        const after = lastName();
        const rows = await read(after, PAGE, signal);
        pages.push({ after, rows });
        p.complete = rows.length < PAGE;
        return rows.length > 0;
      } finally {
        p.loading = false;
      }
    },
    // A poll: a small stage is read again whole (it may have grown past AUTO_ROWS: then it stops there); a large
    // one reads again the pages that hold the rows named in visibleNames (at most 3).
    async refresh(signal, visibleNames) {
      if (p.complete && count() <= AUTO_ROWS) { await p.loadInitial(signal, null); return; }
      const idx = new Set();
      for (const name of visibleNames) idx.add(pageOf(pages, name));
      if (!idx.size) idx.add(0);
      for (const i of [...idx].sort((a, b) => a - b).slice(0, 3)) {
        const next = pages[i + 1] ? pages[i + 1].after : null;
        let rows = await read(pages[i].after, PAGE + SLACK, signal);
        if (next !== null) {
          const end = rows.findIndex(r => r.hostName === next);
          rows = end >= 0 ? rows.slice(0, end + 1) : rows.filter(r => r.hostName <= next);
        }
        pages[i] = { after: pages[i].after, rows };
        if (i === pages.length - 1) p.complete = rows.length < PAGE;
      }
    },
  };
  return p;
}

// The index of the page that holds hostName (the last page whose start sorts before it).
function pageOf(pages, name) {
  let lo = 0, hi = pages.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (pages[mid].after !== null && pages[mid].after < name) lo = mid; else hi = mid - 1;
  }
  return lo;
}
