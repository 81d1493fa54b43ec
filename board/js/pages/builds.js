// SPDX-License-Identifier: Apache-2.0
// board/js/pages/builds.js: builds: search build names, list the builds of one name with their tags.
import * as api from '../api.js';
import { h, clear, badge, timeEl, fmtNum, spinner, errorBox, emptyState, link, debounce, copyButton, openDialog, toast } from '../ui.js';
import { navigate } from '../router.js';

export async function render(ctx) {
  const name = ctx.params.name || null;
  document.title = (name ? name + ' · ' : '') + 'Builds · Slipway';
  const search = h('input.search', { type: 'search', placeholder: 'Search build names', 'aria-label': 'Search build names', 'data-search': true, value: ctx.query.q || '' });
  const names = h('div.name-list', { role: 'list' }, spinner());
  const main = h('div.builds-main');
  clear(ctx.root, h('div.page.page-wide',
    h('div.page-head', h('div', h('h1', 'Builds'), h('p.subtitle', 'Published builds by name. Builds are immutable; tags mark them good or bad.'))),
    h('div.split',
      h('section.panel.split-left', { 'aria-label': 'Build names' }, h('div.panel-head', search), names),
      h('section.panel.split-main', main))));

  async function loadNames() {
    try {
      const list = await api.get('/v1/builds/names', { filter: search.value.trim(), size: 500 }, { signal: ctx.signal });
      if (!list.length) { clear(names, h('p.muted.small.pad', 'No build name matches.')); return; }
      clear(names, list.map(n => h(`a.name-item${n === name ? '.active' : ''}`, { href: '/builds/' + encodeURIComponent(n), 'data-link': true, role: 'listitem' }, n)));
    } catch (e) { if (e.name !== 'AbortError') clear(names, errorBox(e)); }
  }
  search.addEventListener('input', debounce(loadNames, 200));
  loadNames();

  if (!name) {
    clear(main, emptyState('Choose a build name', 'Pick a name on the left to see its builds, newest first.'));
    return;
  }
  const branchSel = h('select', { 'aria-label': 'Branch', onchange: () => navigate(`/builds/${encodeURIComponent(name)}${branchSel.value ? '?branch=' + encodeURIComponent(branchSel.value) : ''}`) },
    h('option', { value: '' }, 'All branches'));
  api.get(`/v1/builds/names/${api.enc(name)}/branches`, null, { signal: ctx.signal }).then(list => {
    for (const b of list) branchSel.append(h('option', { value: b, selected: b === ctx.query.branch }, b));
  }).catch(() => {});
  const body = h('div', spinner());
  clear(main, h('div.panel-head', h('h2', name), branchSel), body);
  let builds;
  try {
    builds = await api.get('/v1/builds', { name, branch: ctx.query.branch, pageSize: 100 }, { signal: ctx.signal });
  } catch (e) {
    if (e.name !== 'AbortError') clear(body, errorBox(e));
    return;
  }
  if (!builds.length) { clear(body, emptyState('No builds', 'Nothing was published under this name (and branch).')); return; }
  const tagCells = new Map();
  clear(body, h('div.table-wrap', h('table.table', { 'aria-label': 'Builds' },
    h('thead', h('tr', h('th', 'Published'), h('th', 'Commit'), h('th', 'Branch'), h('th', 'Tag'), h('th', 'Running on'), h('th', 'CI'), h('th', 'Repo'), h('th', 'Publisher'), h('th', 'Artifact'), h('th', 'Build id'))),
    h('tbody', builds.map(b => {
      const tagCell = h('span', h('span.muted', '…'));
      const runCell = h('td', { 'data-role': 'running-on' }, h('span.muted', '…'));
      tagCells.set(b.id, { tagCell, runCell });
      return h(`tr${b.id === ctx.query.build ? '.highlight' : ''}`, { dataset: { build: b.id } },
        h('td', timeEl(b.publishDate)),
        h('td', b.commitInfo && /^https?:\/\//.test(b.commitInfo) ? h('a', { href: b.commitInfo, target: '_blank', rel: 'noopener' }, h('code', b.commitShort)) : h('code', { title: b.commit }, b.commitShort)),
        h('td', b.branch),
        h('td.nowrap', tagCell, ' ', h('button.btn.btn-xs', { type: 'button', 'data-action': 'tag', onclick: () => tagDialog(b) }, 'Tag…')),
        runCell,
        h('td', { 'data-role': 'ci' }, /^https?:\/\//.test(b.publishInfo || '') ? h('a', { href: b.publishInfo, target: '_blank', rel: 'noopener' }, 'CI ↗') : (b.publishInfo ? h('span.small', b.publishInfo) : h('span.muted', '—'))),
        h('td', b.repo), h('td', b.publisher),
        h('td.desc', { title: b.artifactUrl }, b.artifactUrl, b.artifactSha256 ? h('span.badge.tone-plain', { title: 'sha256 ' + b.artifactSha256 }, 'sha256') : null,
          b.artifactSignature ? h('span.badge.tone-ok', 'signed') : null),
        h('td.mono.small.nowrap', { title: b.id }, b.id.slice(0, 10) + '…', copyButton(b.id)));
    })))),
  h('p.muted.small', `${fmtNum(builds.length)} build${builds.length === 1 ? '' : 's'} shown (newest 100).`));
  function tagDialog(b) {
    const sel = h('select', { name: 'value' }, ['BAD_BUILD', 'GOOD_BUILD', 'CERTIFIED_BUILD'].map(v => h('option', { value: v }, v)));
    const comments = h('input', { name: 'comments', maxlength: 1024, autocomplete: 'off', placeholder: 'why' });
    openDialog({
      title: `Tag build ${b.commitShort} of ${b.name}`,
      body: h('div.form-grid',
        h('p', 'A tag applies to this commit and to every later build of ', h('code', b.repo), ' on ', h('code', b.branch),
          ' until a newer tag overrides it. Deploys of a BAD_BUILD are refused unless forced.'),
        h('div.field', h('label', 'Tag'), sel), h('div.field', h('label', 'Comment'), comments)),
      confirmText: 'Add tag',
      onConfirm: async () => {
        await api.post('/v1/tags', { value: sel.value, targetType: 'BUILD', targetId: b.id, comments: comments.value.trim() });
        toast(`Tagged ${b.commitShort} ${sel.value}`);
        navigate(location.pathname + location.search, { replace: true });
      },
    });
  }
  const hl = body.querySelector('tr.highlight');
  if (hl) hl.scrollIntoView({ block: 'center' });
  // Effective tags and the stages whose current deploy runs the build, a few builds at a time.
  const ids = builds.slice(0, 100).map(b => b.id);
  let i = 0;
  const worker = async () => {
    while (i < ids.length && !ctx.signal.aborted) {
      const id = ids[i++];
      const { tagCell, runCell } = tagCells.get(id);
      try {
        const [t, deps] = await Promise.all([
          api.get(`/v1/builds/${api.enc(id)}/tags`, null, { signal: ctx.signal }),
          api.get('/v1/deploys', { buildId: id, pageSize: 50 }, { signal: ctx.signal }).catch(e => { if (e.name === 'AbortError') throw e; return null; })]);
        clear(tagCell, t && t.tag ? h('span', { title: t.tag.comments || '' }, badge(t.tag.value)) : h('span.muted', '—'));
        const current = deps ? (deps.deploys || []).filter(d => !d.replacedByDeployId) : [];
        const stages = (await Promise.all(current.map(d => api.getEnvById(d.envId)))).filter(Boolean);
        clear(runCell, stages.length ? stages.map((s, k) => [k ? ', ' : '', link(`/env/${encodeURIComponent(s.envName)}/${encodeURIComponent(s.stageName)}`, `${s.envName} / ${s.stageName}`)])
          : h('span.muted', deps ? 'nowhere' : '—'));
      } catch (e) {
        if (e.name === 'AbortError') return;
        clear(tagCell, h('span.muted', '—'));
        clear(runCell, h('span.muted', '—'));
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

