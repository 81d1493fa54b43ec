// SPDX-License-Identifier: Apache-2.0
// board/js/pages/host-log.js: /env/{env}/{stage}/log/{host}: the script output a host's agent reported with its last
// failure in that stage (the tail the agent keeps, 10 KB by default), with the deploy, step, status and exit code.
import * as api from '../api.js';
import { h, clear, badge, timeEl, spinner, errorBox, emptyState, link, shortId, copyButton } from '../ui.js';
import { stageHeader, loadStages } from './common.js';

export async function render(ctx) {
  const { env, stage, host } = ctx.params;
  document.title = `${host} output · ${env} / ${stage} · Slipway`;
  const stages = await loadStages(env, ctx.signal);
  const info = stages.find(s => s.stageName === stage);
  if (!info) {
    clear(ctx.root, h('div.page', emptyState('No such stage', `${env} / ${stage} does not exist.`, link('/', 'Back to environments'))));
    return;
  }
  const body = h('section.panel', { 'aria-label': 'Script output' }, spinner());
  clear(ctx.root, h('div.page.page-wide', stageHeader({ env, stage, stages, section: 'log', stageInfo: info }), body));
  const base = api.stagePath(env, stage);
  let err, agents;
  try {
    [err, agents] = await Promise.all([
      api.get(`${base}/agents/errors/${api.enc(host)}`, null, { signal: ctx.signal }).catch(e => { if (e.status === 404) return null; throw e; }),
      api.get('/v1/agents/' + api.enc(host), null, { signal: ctx.signal }),
    ]);
  } catch (e) {
    if (e.name !== 'AbortError') clear(body, h('div.panel-body', errorBox(e)));
    return;
  }
  const a = agents.find(x => x.envId === info.id);
  const facts = a ? [
    ['Host', link('/hosts/' + encodeURIComponent(host), h('strong', host))],
    ['Deploy', a.deployId ? h('span', link('/deploys/' + encodeURIComponent(a.deployId), h('code', shortId(a.deployId))), a.deployId === info.deployId ? h('span.muted', ' (current)') : null) : '—'],
    ['Step', (a.deployStage || '—').replaceAll('_', ' ')],
    ['Last result', badge(a.status, a.status === 'SUCCEEDED' ? 'ok' : 'bad')],
    ['Exit code', String(a.lastErrno)],
    ['Attempts', String(a.failCount)],
    ['Last change', timeEl(a.lastUpdateDate, true)],
  ] : [['Host', h('strong', host)]];
  clear(body,
    h('div.panel-head', h('h2', 'Script output of ', h('span.mono', host)), err && err.errorMessage ? copyButton(err.errorMessage) : null),
    h('div.panel-body',
      h('dl.kv-grid', facts.map(([k, v]) => h('div', h('dt', k), h('dd', v)))),
      err && err.errorMessage
        ? [h('p.muted.small', 'The end of the output of the failed step, as the agent reported it (the agent keeps the last 10 KB by default: max_tail_bytes).'),
          h('pre.errlog.full', { 'data-role': 'host-log', tabindex: '0', 'aria-label': `Script output of ${host}` }, err.errorMessage)]
        : emptyState('No error recorded', `${host} has no failure recorded in ${env} / ${stage}: its last step succeeded, or it has not failed yet.`)));
}
