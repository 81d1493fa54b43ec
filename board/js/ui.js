// SPDX-License-Identifier: Apache-2.0
// board/js/ui.js: DOM helpers, time and number formatting, badges, toasts and the confirm dialog.

// h('div.card#id', {attrs, on*: handlers}, ...children) builds an element.
export function h(sel, attrs, ...children) {
  if (attrs === null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const m = sel.match(/^([a-z0-9-]*)((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m && m[1] ? m[1] : 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// ---- time -------------------------------------------------------------------------------------

const pad = n => String(n).padStart(2, '0');

// The one time rule of the board (and the CLI, which prints RFC 3339 UTC): times show in UTC, labelled, the date
// shortened to "today" or month-day when it is this UTC day or year; the local time is on hover (fmtLocalFull).
export function fmtTime(ms, withSeconds = false) {
  if (!ms) return '—';
  const iso = new Date(ms).toISOString(), now = new Date().toISOString();
  const time = iso.slice(11, withSeconds ? 19 : 16) + ' UTC';
  if (iso.slice(0, 10) === now.slice(0, 10)) return `today ${time}`;
  return `${iso.slice(0, 4) === now.slice(0, 4) ? iso.slice(5, 10) : iso.slice(0, 10)} ${time}`;
}

// The local time with its zone, for the hover of a UTC time.
export function fmtLocalFull(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const zone = (d.toLocaleTimeString('en-US', { timeZoneName: 'short' }).split(' ').pop()) || 'local';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone} (your local time)`;
}

// A <time> element in UTC (fmtTime) with the local time on hover.
export function timeEl(ms, withSeconds) {
  if (!ms) return h('span.muted', '—');
  return h('time', { datetime: new Date(ms).toISOString(), title: fmtLocalFull(ms) }, fmtTime(ms, withSeconds));
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(s % 60)}s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${pad(m % 60)}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

export function fmtAgo(ms) {
  if (!ms) return '—';
  return fmtDuration(Date.now() - ms) + ' ago';
}

export const fmtNum = n => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));

// ---- badges -----------------------------------------------------------------------------------

const STATE_TONE = {
  RUNNING: 'info', SUCCEEDING: 'ok', SUCCEEDED: 'ok', FAILING: 'bad', ABORTED: 'muted',
  ACCEPTED: 'ok', REJECTED: 'bad', OUTSTANDING: 'warn', PENDING_DEPLOY: 'muted', PENDING_ACCEPT: 'warn', TERMINATED: 'muted',
  NORMAL: 'ok', PAUSED: 'warn', DISABLED: 'bad',
  PAUSED_BY_USER: 'warn', PAUSED_BY_SYSTEM: 'bad', RESET: 'info', RESET_BY_SYSTEM: 'info', DELETE: 'muted',
  UNREACHABLE: 'bad', STOP: 'muted',
  BAD_BUILD: 'bad', GOOD_BUILD: 'ok', CERTIFIED_BUILD: 'ok',
  REGULAR: 'plain', ROLLBACK: 'warn', RESTART: 'info', HOTFIX: 'warn',
};

export function badge(value, tone) {
  if (value === null || value === undefined || value === '') return h('span.muted', '—');
  return h(`span.badge.tone-${tone || STATE_TONE[value] || 'plain'}`, String(value).replaceAll('_', ' '));
}

export function shortId(id) { return id ? String(id).slice(0, 8) : '—'; }

// ---- toasts -----------------------------------------------------------------------------------

export function toast(message, tone = 'ok') {
  const box = document.getElementById('toasts');
  const t = h(`div.toast.tone-${tone}`, { role: tone === 'bad' ? 'alert' : 'status' }, message);
  box.append(t);
  setTimeout(() => t.classList.add('leaving'), tone === 'bad' ? 7000 : 3500);
  setTimeout(() => t.remove(), tone === 'bad' ? 7400 : 3900);
}

// ---- dialogs ----------------------------------------------------------------------------------

// openDialog({title, body, confirmText, danger, onConfirm}) shows a modal dialog. onConfirm may
// return a promise; while it runs the buttons are disabled; if it throws, the message is shown in
// the dialog (and next to a field when the error names one) and the dialog stays open.
// Resolves true when confirmed and done, false when cancelled.
export function openDialog({ title, body, confirmText = 'Confirm', danger = false, onConfirm, wide = false, cancelText = 'Cancel' }) {
  return new Promise(resolve => {
    const error = h('div.dialog-error', { role: 'alert', hidden: true });
    const confirmBtn = h(`button.btn.${danger ? 'btn-danger' : 'btn-primary'}`, { type: 'submit', 'data-role': 'confirm' }, confirmText);
    const cancelBtn = h('button.btn', { type: 'button', 'data-role': 'cancel' }, cancelText);
    const form = h('form.dialog-form', { method: 'dialog', novalidate: true },
      h('header.dialog-head', h('h2', title)),
      h('div.dialog-body', body),
      error,
      h('footer.dialog-foot', cancelBtn, onConfirm === null ? null : confirmBtn));
    const dlg = h(`dialog.dialog${wide ? '.wide' : ''}`, { 'aria-label': title }, form);
    let done = false;
    const close = ok => {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      resolve(ok);
    };
    cancelBtn.addEventListener('click', () => close(false));
    dlg.addEventListener('cancel', e => { e.preventDefault(); if (!confirmBtn.disabled) close(false); });
    form.addEventListener('submit', async e => {
      e.preventDefault();
      if (!onConfirm) return close(true);
      confirmBtn.disabled = cancelBtn.disabled = true;
      error.hidden = true;
      form.querySelectorAll('.field-error').forEach(x => x.remove());
      try {
        await onConfirm(form);
        close(true);
      } catch (err) {
        error.textContent = err.message || String(err);
        error.hidden = false;
        if (err.field) showFieldError(form, err.field, err.message);
        confirmBtn.disabled = cancelBtn.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector('[autofocus]') || dlg.querySelector('input,select,textarea') || confirmBtn;
    first.focus();
  });
}

// confirmAction(title, what, run): a dialog that says what will happen, then runs `run`.
export function confirmAction(title, what, run, opts = {}) {
  return openDialog({ title, body: h('div', typeof what === 'string' ? h('p', what) : what), onConfirm: run, ...opts });
}

// Places a message next to the input named `field` inside `root`; returns true if found.
export function showFieldError(root, field, message) {
  const input = root.querySelector(`[name="${CSS.escape(field)}"]`);
  if (!input) return false;
  const wrap = input.closest('.field') || input.parentElement;
  wrap.querySelectorAll('.field-error').forEach(x => x.remove());
  input.setAttribute('aria-invalid', 'true');
  const msg = h('div.field-error', { role: 'alert', 'data-field': field }, message);
  wrap.append(msg);
  input.focus();
  return true;
}

export function clearFieldErrors(root) {
  root.querySelectorAll('.field-error').forEach(x => x.remove());
  root.querySelectorAll('[aria-invalid]').forEach(x => x.removeAttribute('aria-invalid'));
}

// ---- misc -------------------------------------------------------------------------------------

export function spinner(text = 'Loading…') { return h('div.loading', h('span.spin'), text); }

export function errorBox(err, retry) {
  return h('div.errorbox', { role: 'alert' },
    h('strong', err.status ? `Error ${err.status}` : 'Error'), ' ', err.message || String(err),
    retry ? h('button.btn.btn-sm', { type: 'button', onclick: retry, style: { marginLeft: '12px' } }, 'Retry') : null);
}

export function emptyState(title, text, action) {
  return h('div.empty', h('div.empty-title', title), text ? h('p', text) : null, action || null);
}

export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

export function link(href, ...children) { return h('a', { href, 'data-link': true }, ...children); }

export function copyButton(text) {
  return h('button.icon-btn', {
    type: 'button', title: 'Copy', 'aria-label': 'Copy',
    onclick: async e => { e.stopPropagation(); try { await navigator.clipboard.writeText(text); toast('Copied'); } catch { /* no clipboard */ } },
  }, icon('copy'));
}

// Small inline SVG icons (no icon font, no external asset).
const ICONS = {
  pause: 'M5 3h2.5v10H5zM8.5 3H11v10H8.5z',
  play: 'M5 3l8 5-8 5z',
  copy: 'M5 5h7v8H5zM3 3h7v1.5H4.5V11H3z',
};
export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('fill-rule', 'evenodd');
  svg.append(path);
  return svg;
}
