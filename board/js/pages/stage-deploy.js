// SPDX-License-Identifier: Apache-2.0
// board/js/pages/stage-deploy.js: the deploy dialog of the stage page: recent builds of the stage's build name
// (narrowed by branch or commit) or a pasted build id, with warnings about BAD_BUILD tags and builds never
// deployed on the predecessor stage. st is the stage page's state (stage.js).
import * as api from '../api.js';
import { h, clear, badge, timeEl, spinner, errorBox, toast, openDialog, shortId, debounce } from '../ui.js';
import { descField } from './stage-actions.js';
import { stageBefore } from './common.js';

// The list of recent builds; clicking one (or Enter) puts its id in buildIn and calls onPick.
function buildList(st, buildIn, onPick) {
  const { info, current } = st;
  const list = h('div.pick-list', spinner('Loading builds…'));
  const branchSel = h('select', { name: 'branch', 'aria-label': 'Branch' }, h('option', { value: '' }, 'All branches'));
  const commitIn = h('input', { name: 'commit', autocomplete: 'off', spellcheck: 'false', placeholder: 'commit (prefix)', 'aria-label': 'Commit' });
  api.get(`/v1/builds/names/${api.enc(info.buildName)}/branches`).then(names => {
    names.forEach(n => branchSel.append(h('option', { value: n }, n)));
  }).catch(() => {});
  const pick = b => { buildIn.value = b.id; onPick(); };
  const row = b => h('tr', {
    tabindex: '0', dataset: { build: b.id }, class: [current && current.buildId === b.id ? 'is-current' : '', b.id === buildIn.value.trim() ? 'chosen' : ''].join(' ').trim(),
    onclick: () => pick(b),
    onkeydown: e => { if (e.key === 'Enter') { e.preventDefault(); pick(b); } },
  }, h('td', h('input', { type: 'radio', name: 'pick', tabindex: '-1', checked: b.id === buildIn.value.trim() })), h('td', h('code', { title: b.commit }, b.commitShort)),
  h('td', b.branch), h('td', timeEl(b.publishDate)), h('td', b.publisher));
  let listSeq = 0;
  // Builds of the build name, by branch; a commit of 7+ characters asks the server (it matches the first 7),
  // a shorter one filters what is shown.
  async function load() {
    const my = ++listSeq;
    const commit = commitIn.value.trim();
    clear(list, spinner('Loading builds…'));
    try {
      let builds = commit.length >= 7
        ? await api.get('/v1/builds', { name: info.buildName, commit })
        : await api.get('/v1/builds', { name: info.buildName, branch: branchSel.value, pageSize: 50 });
      if (my !== listSeq) return;
      if (branchSel.value) builds = builds.filter(b => b.branch === branchSel.value);
      if (commit) builds = builds.filter(b => b.commit.startsWith(commit));
      builds = builds.slice(0, 50);
      if (!builds.length) {
        clear(list, h('p.muted.small', commit || branchSel.value ? 'No build matches.' : `No build named ${info.buildName} was published yet.`));
        return;
      }
      clear(list, h('table.table.table-compact.pick', h('thead', h('tr', h('th', ''), h('th', 'Commit'), h('th', 'Branch'), h('th', 'Published'), h('th', 'Publisher'))),
        h('tbody', builds.map(row))));
    } catch (e) {
      if (my === listSeq) clear(list, errorBox(e));
    }
  }
  branchSel.addEventListener('change', load);
  commitIn.addEventListener('input', debounce(load, 250));
  commitIn.addEventListener('keydown', e => { if (e.key === 'Enter') e.preventDefault(); });
  load();
  return { list, filters: h('div.inline.pick-filters', branchSel, commitIn) };
}

// The predecessor stage: the promote config's predStage when it names a stage, else the stage before this one
// in pipeline order (none for the first stage, or when builds come straight from BUILD).
function predecessorOf(st) {
  return async () => stageBefore(st.stages, st.info);
}

// What the dialog knows about the chosen build: the build, its tag, and whether the predecessor ran it.
async function checkBuild(id, predecessor) {
  const b = await api.getBuild(id);
  if (!b) return { build: null };
  const [t, pred] = await Promise.all([
    api.get(`/v1/builds/${api.enc(id)}/tags`).catch(() => null),
    predecessor().catch(() => null)]);
  // Was the build ever deployed on the predecessor stage?
  const onPred = pred ? await api.get('/v1/deploys', { envId: pred.id, buildId: id, pageSize: 1 }).then(r => r.total ?? (r.deploys || []).length).catch(() => null) : null;
  return { build: b, tag: t && t.tag, pred, onPred };
}

function buildSummary(st, { build: b, tag, pred, onPred }) {
  const { info } = st;
  return h('div.build-summary', h('div', h('code', b.commitShort), ' ', b.repo, ' @ ', b.branch, ' · published ', timeEl(b.publishDate), ' by ', b.publisher),
    b.name !== info.buildName ? h('div.warnbox', `This build is named ${b.name}, but the stage deploys ${info.buildName}: the server will refuse it.`) : null,
    tag && tag.value === 'BAD_BUILD' ? h('div.warnbox.bad', { 'data-role': 'bad-build' }, h('strong', 'Tagged BAD_BUILD'),
      tag.comments ? ` — “${tag.comments}”` : '', ` by ${tag.operator || 'unknown'} `, timeEl(tag.createdDate), '. The server refuses it unless you force the deploy.') : null,
    tag && tag.value !== 'BAD_BUILD' ? h('div', badge(tag.value)) : null,
    pred && onPred === 0 ? h('div.warnbox', { 'data-role': 'not-on-pred' }, 'This build was never deployed on ', h('strong', pred.stageName),
      ', the stage before this one. Consider deploying it there first.') : null);
}

export async function deployDialog(st) {
  const { env, stageName, info, base } = st;
  const buildIn = h('input', { name: 'buildId', autocomplete: 'off', placeholder: 'build id', spellcheck: 'false', required: true });
  const preview = h('div.build-preview');
  const forceBox = h('input', { type: 'checkbox', name: 'force' });
  const forceRow = h('label.check.force-row', { hidden: true }, forceBox, ' Deploy anyway (force)');
  const predecessor = predecessorOf(st);
  let chosen = null, tag = null, seq = 0;
  const picker = buildList(st, buildIn, choose);
  const body = h('div.form-grid',
    h('p', 'Deploy a build of ', h('code', info.buildName), ' to ', h('strong', `${env} / ${stageName}`), '. Pick one of the recent builds (narrow them by branch or commit) or paste a build id.'),
    h('div.field', h('label', 'Recent builds'), picker.filters, picker.list),
    h('div.field', h('label', { for: 'dlg-build' }, 'Build id'), Object.assign(buildIn, { id: 'dlg-build' })),
    preview, forceRow,
    descField('Description (optional)'));
  async function choose() {
    const id = buildIn.value.trim();
    const my = ++seq;
    chosen = null; tag = null;
    forceRow.hidden = true;
    picker.list.querySelectorAll('tr[data-build]').forEach(tr => {
      tr.classList.toggle('chosen', tr.dataset.build === id);
      const r = tr.querySelector('input[type=radio]');
      if (r) r.checked = tr.dataset.build === id;
    });
    if (!id) { clear(preview); return; }
    clear(preview, spinner('Checking build…'));
    try {
      const found = await checkBuild(id, predecessor);
      if (my !== seq) return;
      if (!found.build) { clear(preview, h('div.warnbox', 'No build with this id.')); return; }
      chosen = found.build;
      tag = found.tag;
      clear(preview, buildSummary(st, found));
      forceRow.hidden = !(tag && tag.value === 'BAD_BUILD');
    } catch (e) {
      if (my === seq) clear(preview, errorBox(e));
    }
  }
  buildIn.addEventListener('change', choose);
  buildIn.addEventListener('input', () => { if (/^[A-Za-z0-9_-]{23,30}$/.test(buildIn.value.trim())) choose(); });
  openDialog({
    title: `Deploy to ${env} / ${stageName}`, wide: true, body, confirmText: 'Deploy',
    onConfirm: async f => {
      const id = buildIn.value.trim();
      if (!id) throw Object.assign(new Error('Choose a build.'), { field: 'buildId' });
      if (!chosen || chosen.id !== id) await choose();
      if (!chosen) throw Object.assign(new Error('No build with this id.'), { field: 'buildId' });
      if (tag && tag.value === 'BAD_BUILD' && !forceBox.checked) throw Object.assign(new Error('This build is tagged BAD_BUILD: tick “Deploy anyway” to force it.'), { field: 'force' });
      const d = await api.post(base + '/deploys', undefined, {
        buildId: id, description: f.elements.description.value.trim(), force: forceBox.checked ? 'true' : undefined,
      });
      toast(`Deploy ${shortId(d && d.id)} started`);
      await st.refresh();
    },
  });
}
