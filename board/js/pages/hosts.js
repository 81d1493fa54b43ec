// SPDX-License-Identifier: Apache-2.0
// board/js/pages/hosts.js: host search by partial name (type-ahead) and the host page: its records, and its agent in
// every stage.
import * as api from '../api.js';
import { h, clear, badge, timeEl, fmtAgo, fmtTime, spinner, errorBox, emptyState, link, openDialog, toast, shortId, debounce } from '../ui.js';
import { navigate } from '../router.js';
import { canOperate, whenSessionKnown } from '../session.js';
import { classify, CLASSES } from '../grid.js';
import { hostLogHref } from './stage-errors.js';
import { tagsPanel } from './zones.js';

const CLASS_BY_KEY = Object.fromEntries(CLASSES.map(c => [c.key, c]));

const SEARCH_PAGE = 20;

// The host search (GET /v1/hosts): names that start with the text first (an index range on the server), then, when
// those do not fill a page, names that contain it; "More" continues whichever list the last page came from.
function hostSearch(input, onPick) {
  const list = h('ul.host-results', { 'aria-label': 'Matching hosts' });
  const more = h('button.btn.btn-sm', { type: 'button', 'data-action': 'more-hosts', hidden: true }, 'More');
  const status = h('p.muted.small', { role: 'status', 'data-role': 'search-status' });
  const box = h('section.panel.host-search', { 'data-role': 'host-results', 'aria-label': 'Host search results', hidden: true }, h('div.panel-body', status, list, more));
  let seq = 0, shown = new Set(), cursor = null, text = '';

  const item = row => {
    const i = row.hostName.indexOf(text);
    const name = i < 0 ? row.hostName : [row.hostName.slice(0, i), h('mark', text), row.hostName.slice(i + text.length)];
    return h('li', { dataset: { host: row.hostName } }, link('/hosts/' + encodeURIComponent(row.hostName), h('span.mono', name)),
      h('span.muted.small', ` · ${row.stages} stage${row.stages === 1 ? '' : 's'} · `,
        row.lastSeen ? h('span', { title: fmtTime(row.lastSeen, true) }, 'seen ' + fmtAgo(row.lastSeen)) : 'never pinged'));
  };
  const add = rows => {
    let n = 0;
    for (const r of rows) if (!shown.has(r.hostName)) { shown.add(r.hostName); list.append(item(r)); n++; }
    return n;
  };
  const fetchPage = (mode, after) => api.get('/v1/hosts', { [mode === 'prefix' ? 'namePrefix' : 'nameContains']: text, limit: SEARCH_PAGE, ...(after ? { after } : {}) });

  // One step of the list: pages until one shows a new name (the substring pages repeat the prefix matches), at
  // most a few requests.
  async function load(first) {
    const my = ++seq;
    let mode = first ? 'prefix' : cursor.mode, after = first ? null : cursor.after;
    try {
      for (let tries = 0; tries < 6; tries++) {
        const page = await fetchPage(mode, after);
        if (my !== seq) return;
        if (first && tries === 0) { list.replaceChildren(); shown = new Set(); }
        const added = add(page.hosts);
        after = page.next;
        if (after && added) break;
        if (!after && mode === 'prefix') mode = 'contains';
        else if (!after) break;
      }
      cursor = after ? { mode, after } : null;
      more.hidden = !cursor;
      status.textContent = shown.size ? `${shown.size}${cursor ? '+' : ''} host${shown.size === 1 ? '' : 's'} matching “${text}”` : `No host name contains “${text}”.`;
    } catch (e) {
      if (my === seq) status.textContent = e.status === 400 ? 'Host names are letters, digits, “.”, “_” and “-”.' : `Search failed: ${e.message}`;
    }
    box.hidden = false;
  }
  const run = debounce(() => {
    text = input.value.trim();
    if (!text) { seq++; box.hidden = true; onPick(null); return; }
    onPick(text);
    load(true);
  }, 150);
  input.addEventListener('input', run);
  input.addEventListener('keydown', e => {
    if (e.key === 'ArrowDown' && list.firstChild) { e.preventDefault(); list.firstChild.querySelector('a').focus(); }
    if (e.key === 'Escape') { input.value = ''; run(); }
  });
  more.addEventListener('click', () => load(false));
  return {
    box,
    start: () => { if (input.value.trim()) run(); },
    // Enter: the typed name when it is a host, else the only match.
    pick: v => (shown.has(v) || shown.size !== 1 ? v : [...shown][0]),
  };
}

export async function render(ctx) {
  const host = ctx.params.host || null;
  document.title = (host ? host + ' · ' : '') + 'Hosts · Slipway';
  const typed = host ? '' : (ctx.query.q || '');
  const search = h('input.search', { type: 'search', name: 'host', placeholder: 'Host name or part of it', 'aria-label': 'Host name or part of it', 'data-search': true, value: typed, autocomplete: 'off' });
  const body = h('div');
  // On /hosts the address keeps the text (?q=), so a reload or a shared link shows the same results.
  const finder = hostSearch(search, v => {
    if (host) return;
    history.replaceState(null, '', '/hosts' + (v ? '?q=' + encodeURIComponent(v) : ''));
    body.hidden = Boolean(v);
  });
  const form = h('form.inline-form', { role: 'search', onsubmit: e => { e.preventDefault(); const v = search.value.trim(); if (v) navigate('/hosts/' + encodeURIComponent(finder.pick(v))); } },
    search, h('button.btn', { type: 'submit' }, 'Look up'));
  clear(ctx.root, h('div.page.page-wide',
    h('div.page-head', h('div',
      host ? h('nav.crumbs', link('/hosts', 'Hosts'), h('span.sep', '/'), h('span', host)) : null,
      h('h1', host ? h('span.mono', host) : 'Hosts'),
      h('p.subtitle', host ? 'This host in every stage it belongs to.' : 'Search hosts by name to see their agents and records.')), form),
    finder.box, body));
  if (!host) {
    search.focus();
    clear(body, emptyState('Find a host', 'Type part of a host name (as its agent reports it): matches show as you type.'));
    finder.start();
    return;
  }

  clear(body, spinner());
  let agents, records;
  try {
    [agents, records] = await Promise.all([
      api.get('/v1/agents/' + api.enc(host), null, { signal: ctx.signal }),
      api.get('/v1/hosts/' + api.enc(host), null, { signal: ctx.signal }).catch(e => { if (e.status === 404) return []; throw e; }),
      whenSessionKnown(),
    ]);
  } catch (e) {
    if (e.name !== 'AbortError') clear(body, errorBox(e));
    return;
  }
  if (!agents.length && !records.length) {
    clear(body, emptyState('Unknown host', `The server has no agent or host record named ${host}.`));
    return;
  }
  const envs = await Promise.all(agents.map(a => api.getEnvById(a.envId)));
  const currents = envs.map(e => e && e.deployId);

  const recPanel = h('section.panel', h('div.panel-head', h('h2', 'Host records')),
    records.length ? h('div.table-wrap', { tabindex: '0', role: 'region', 'aria-label': 'Host records' }, h('table.table', { 'aria-label': 'Host records' },
      h('thead', h('tr', h('th', 'Group'), h('th', 'Host id'), h('th', 'IP'), h('th', 'State'), h('th', 'Agent version'), h('th', 'Last seen'), h('th', 'Registered'), h('th', ''))),
      h('tbody', records.map(r => h('tr',
        h('td', r.groupName && r.groupName !== 'NULL' ? r.groupName : h('span.muted', 'no group')), h('td.mono', r.hostId), h('td.mono', r.ip || '—'), h('td', badge(r.state, r.state === 'ACTIVE' ? 'ok' : 'warn')),
        h('td', r.agentVersion || '—'), h('td', r.lastSeen ? h('span', { title: fmtTime(r.lastSeen, true) }, fmtAgo(r.lastSeen)) : '—'),
        h('td', timeEl(r.createDate)), h('td.nowrap', canOperate() ? removeBtn(r) : null))))))
      : h('p.muted.small.pad', 'No host record (hosts get one when they first ping or are registered).'));

  const agentRows = agents.map((a, i) => {
    const e = envs[i];
    const cls = classify(a, currents[i]);
    const c = CLASS_BY_KEY[cls];
    // The last failure's script output has a page of its own (it can be 10 KB: too much for a table cell).
    const errCell = h('td', { 'data-role': 'host-error' }, e && a.status && a.status !== 'SUCCEEDED' && a.status !== 'UNKNOWN'
      ? link(hostLogHref(e.envName, e.stageName, host), 'script output') : h('span.muted', '—'));
    const ops = e && canOperate(e.envName) ? [
      a.state === 'PAUSED_BY_USER' ? actBtn('Resume', 'NORMAL', a, e) : actBtn('Pause', 'PAUSED_BY_USER', a, e),
      actBtn('Reset', 'RESET', a, e), a.state !== 'STOP' ? stopBtn(a, e) : null] : [];
    return h('tr',
      h('td', e ? link(`/env/${encodeURIComponent(e.envName)}/${encodeURIComponent(e.stageName)}`, h('strong', e.envName), ' / ', e.stageName) : h('span.muted', a.envId)),
      h('td', h('span.dot', { style: { background: c.color } }), c.label),
      h('td', (a.deployStage || '—').replaceAll('_', ' ')),
      h('td', badge(a.state)),
      h('td', a.status ? a.status.replaceAll('_', ' ') : '—', a.failCount ? h('span.muted.small', ` ×${a.failCount}`) : null),
      h('td.mono', { title: a.deployId || '' }, shortId(a.deployId), a.deployId && a.deployId === currents[i] ? h('span.muted.small', ' (current)') : null),
      h('td', timeEl(a.lastUpdateDate)),
      h('td', timeEl(a.firstDeployDate)),
      errCell,
      h('td.nowrap', ops));
  });
  const agentPanel = h('section.panel', h('div.panel-head', h('h2', 'Agents')),
    agents.length ? h('div.table-wrap', { tabindex: '0', role: 'region', 'aria-label': 'Agents of this host table' }, h('table.table', { 'aria-label': 'Agents of this host' },
      h('thead', h('tr', h('th', 'Stage'), h('th', 'Status'), h('th', 'Deploy stage'), h('th', 'Agent state'), h('th', 'Last result'), h('th', 'Deploy'),
        h('th', 'Last change'), h('th', 'First deploy'), h('th', 'Error'), h('th', ''))),
      h('tbody', agentRows)))
      : h('p.muted.small.pad', 'This host has no agent rows: it has not pinged for any stage yet.'));
  clear(body, agentPanel, tagsPanel(host, envs.find(Boolean)), recPanel);

  // Stop: the agent runs the stop steps (STOPPING, STOPPED) and the host leaves the stage (DELETE …/hosts).
  function stopBtn(a, e) {
    return h('button.btn.btn-xs', {
      type: 'button', 'data-action': 'stop-host',
      onclick: () => openDialog({
        title: `Stop ${host} in ${e.envName} / ${e.stageName}?`,
        body: h('p', 'The agent stops the service (the STOPPING and STOPPED steps) and the host leaves this stage; it gets no further deploys of it.'),
        confirmText: 'Stop', danger: true,
        onConfirm: async () => {
          await api.del(`${api.stagePath(e.envName, e.stageName)}/hosts`, [a.hostId], { replaceHost: 'true' });
          toast(`Stopping ${host}`);
          navigate(location.pathname, { replace: true });
        },
      }),
    }, 'Stop');
  }

  // Remove: the host is stopped in every stage and its record marked for termination (DELETE /v1/hosts/{id}).
  function removeBtn(r) {
    return h('button.btn.btn-xs', {
      type: 'button', 'data-action': 'remove-host',
      onclick: () => openDialog({
        title: `Remove ${host} (${r.hostId}) from the fleet?`,
        body: h('p', 'Every stage of the host stops it (STOPPING, STOPPED) and its record is marked for termination. Needs OPERATOR on the whole system.'),
        confirmText: 'Remove', danger: true,
        onConfirm: async () => {
          await api.del(`/v1/hosts/${api.enc(r.hostId)}`);
          toast(`Removing ${host}`);
          navigate(location.pathname, { replace: true });
        },
      }),
    }, 'Remove');
  }

  function actBtn(label, state, a, e) {
    return h('button.btn.btn-xs', {
      type: 'button', 'data-action': state,
      onclick: () => openDialog({
        title: `${label} ${host} in ${e.envName} / ${e.stageName}?`,
        body: h('p', state === 'PAUSED_BY_USER' ? 'The host gets no new goals of this stage and frees its rollout slot until resumed.'
          : state === 'RESET' ? 'The agent clears its failure state and redeploys the current build from the start.'
            : 'The host takes part in deploys of this stage again.'),
        confirmText: label, danger: state !== 'NORMAL',
        onConfirm: async () => {
          await api.put(`${api.stagePath(e.envName, e.stageName)}/agents/${api.enc(a.hostId)}`, { state });
          toast(`${label}: ${host}`);
          navigate(location.pathname, { replace: true });
        },
      }),
    }, label);
  }
}
