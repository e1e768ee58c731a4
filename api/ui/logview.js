// logview: a job's log, rendered a screenful at a time.
//
// Lines are kept as strings; only the rows on screen (and a few around
// them) are elements, so a log of any length costs a few hundred
// elements. Rows have one fixed height, so the scroll position says which
// lines show. Lines that start with "$ " (the worker's echo of a step)
// start foldable sections. The view follows the end while the user has
// not scrolled up; a button brings it back. Text goes in as Text nodes;
// colours come from parsed SGR codes only (ansi.js).

import { h } from './dom.js';
import { parseLine, plainText } from './ansi.js';

export const ROW_H = 20;
const OVERSCAN = 20;
const MAX_MATCHES = 10000;

export class LogView {
    constructor({ onTarget } = {}) {
        this.onTarget = onTarget;
        this.lines = [];
        this.lower = [];
        this.lineSec = [];
        this.sections = [];
        this.rows = [];
        this.partial = false;
        this.following = true;
        this.target = null;
        this.query = '';
        this.matches = [];
        this.current = -1;
        this.failedSection = -1;
        this.cache = new Map();
        this.frame = 0;

        this.spacer = h('div', { className: 'log-spacer' });
        this.rowsEl = h('div', { className: 'log-rows', attrs: { role: 'presentation' } });
        this.empty = h('div', { className: 'log-empty' });
        this.scroller = h('div', {
            className: 'log-scroll', tabIndex: 0,
            attrs: { role: 'log', 'aria-label': 'job log', 'aria-live': 'off' },
        }, this.spacer, this.rowsEl, this.empty);
        this.followBtn = h('button', {
            type: 'button', className: 'btn log-follow', hidden: true,
            onclick: () => this.resumeFollow(),
        }, '↓ Follow the log');
        this.el = h('div', { className: 'log' }, this.scroller, this.followBtn);

        this.scroller.addEventListener('scroll', () => {
            const bottom = this.atBottom();
            if (this.following !== bottom) {
                this.following = bottom;
                this.followBtn.hidden = bottom;
            }
            this.schedule();
        }, { passive: true });
        this.scroller.addEventListener('click', (ev) => this.click(ev));
        this.scroller.addEventListener('keydown', (ev) => {
            if (ev.key === 'End') {
                ev.preventDefault();
                this.resumeFollow();
            } else if (ev.key === 'Home') {
                ev.preventDefault();
                this.scroller.scrollTop = 0;
            }
        });
        new ResizeObserver(() => this.schedule()).observe(this.scroller);
    }

    setMessage(text) {
        this.empty.textContent = text || '';
        this.empty.hidden = !text;
    }

    atBottom() {
        const s = this.scroller;
        return s.scrollTop + s.clientHeight >= s.scrollHeight - ROW_H;
    }

    // Add text of the log (any piece: lines may be cut anywhere).
    append(text) {
        if (text === '')
            return;
        if (text.includes('\r\n'))
            text = text.replace(/\r\n/g, '\n');
        const parts = text.split('\n');
        const endsLine = parts[parts.length - 1] === '';
        if (endsLine)
            parts.pop();
        let k = 0;
        if (this.partial && this.lines.length && parts.length) {
            const last = this.lines.length - 1;
            const joined = this.lines[last] + parts[0];
            const s = this.lineSec[last];
            if (!(s >= 0 && this.sections[s].start === last) && joined.startsWith('$ ')) {
                // A step's echo cut in two: it starts a section after all.
                this.removeLast();
                parts[0] = joined;
            } else {
                this.lines[last] = joined;
                this.lower[last] = undefined;
                this.cache.delete(last);
                k = 1;
            }
        }
        for (; k < parts.length; k++)
            this.addLine(parts[k]);
        if (parts.length)
            this.partial = !endsLine;
        else if (endsLine)
            this.partial = false;
        this.setMessage('');
        if (this.query)
            this.searchSoon();
        this.schedule(true);
    }

    removeLast() {
        const last = this.lines.length - 1;
        this.lines.pop();
        this.lower.pop();
        const s = this.lineSec.pop();
        if (this.rows[this.rows.length - 1] === last)
            this.rows.pop();
        if (s >= 0)
            this.sections[s].end = last;
    }

    addLine(line) {
        const i = this.lines.length;
        this.lines.push(line);
        this.lower.push(undefined);
        if (line.startsWith('$ ')) {
            this.sections.push({ start: i, end: i + 1, collapsed: false });
            this.lineSec.push(this.sections.length - 1);
            this.rows.push(i);
            return;
        }
        const s = this.sections.length - 1;
        this.lineSec.push(s);
        if (s >= 0) {
            this.sections[s].end = i + 1;
            if (this.sections[s].collapsed)
                return;
        }
        this.rows.push(i);
    }

    rebuildRows() {
        const rows = [];
        const n = this.lines.length;
        for (let i = 0; i < n; i++) {
            const s = this.lineSec[i];
            if (s >= 0 && this.sections[s].collapsed && this.sections[s].start !== i)
                continue;
            rows.push(i);
        }
        this.rows = rows;
        this.cache.clear();
    }

    // The job ended: mark the failing step (the last one echoed: the job's
    // shell stops at the first command that fails), fold the ones before it.
    finish(status) {
        if (status !== 'failed' || this.sections.length === 0)
            return;
        this.failedSection = this.sections.length - 1;
        for (let s = 0; s < this.failedSection; s++)
            this.sections[s].collapsed = true;
        this.sections[this.failedSection].collapsed = false;
        this.rebuildRows();
        this.schedule(true);
    }

    toggle(s, collapsed = !this.sections[s].collapsed) {
        const anchor = this.sections[s].start;
        this.sections[s].collapsed = collapsed;
        this.rebuildRows();
        const at = this.rowOf(anchor);
        if (at >= 0 && (at * ROW_H < this.scroller.scrollTop || at * ROW_H > this.scroller.scrollTop + this.scroller.clientHeight))
            this.scroller.scrollTop = at * ROW_H;
        this.schedule(true);
    }

    setAll(collapsed) {
        for (const sec of this.sections)
            sec.collapsed = collapsed;
        this.rebuildRows();
        this.schedule(true);
    }

    // The row that shows line i (binary search: rows are in line order), or -1.
    rowOf(i) {
        let lo = 0;
        let hi = this.rows.length - 1;
        while (lo <= hi) {
            const mid = (lo + hi) >> 1;
            const v = this.rows[mid];
            if (v === i) return mid;
            if (v < i) lo = mid + 1;
            else hi = mid - 1;
        }
        return -1;
    }

    // Show line i (0-based): unfold its section, scroll it to the middle.
    reveal(i, { center = true } = {}) {
        const s = this.lineSec[i];
        if (s >= 0 && this.sections[s].collapsed && this.sections[s].start !== i) {
            this.sections[s].collapsed = false;
            this.rebuildRows();
        }
        const r = this.rowOf(i);
        if (r < 0)
            return;
        this.following = false;
        this.followBtn.hidden = false;
        this.spacer.style.height = `${this.rows.length * ROW_H}px`;
        const top = center ? r * ROW_H - (this.scroller.clientHeight - ROW_H) / 2 : r * ROW_H;
        this.scroller.scrollTop = Math.max(0, top);
        this.following = this.atBottom();
        this.followBtn.hidden = this.following;
        this.schedule(true);
    }

    // Highlight line n (1-based, as #L{n}); false if the log has no such line yet.
    setTarget(n) {
        if (!(n >= 1 && n <= this.lines.length))
            return false;
        this.target = n - 1;
        this.cache.clear();
        this.reveal(n - 1);
        return true;
    }

    resumeFollow() {
        this.following = true;
        this.followBtn.hidden = true;
        this.scrollToEnd();
        this.scroller.focus({ preventScroll: true });
    }

    scrollToEnd() {
        this.spacer.style.height = `${this.rows.length * ROW_H}px`;
        this.scroller.scrollTop = this.scroller.scrollHeight;
    }

    click(ev) {
        const a = ev.target.closest('a.ln-num');
        if (a) {
            ev.preventDefault();
            const n = Number(a.dataset.line);
            history.replaceState(history.state, '', `#L${n}`);
            this.target = n - 1;
            this.cache.clear();
            this.schedule(true);
            this.onTarget?.(n);
            return;
        }
        const b = ev.target.closest('button.ln-fold');
        if (b)
            this.toggle(Number(b.dataset.section));
    }

    // ---- search ----

    // The text of line i as shown, in lower case (for search; kept until
    // the line changes).
    lowerOf(i) {
        let p = this.lower[i];
        if (p === undefined) {
            p = plainText(this.lines[i]).toLowerCase();
            this.lower[i] = p;
        }
        return p;
    }

    search(q) {
        this.query = q;
        this.matches = [];
        this.current = -1;
        if (q) {
            const needle = q.toLowerCase();
            const n = this.lines.length;
            for (let i = 0; i < n && this.matches.length < MAX_MATCHES; i++) {
                const p = this.lowerOf(i);
                let at = p.indexOf(needle);
                while (at >= 0 && this.matches.length < MAX_MATCHES) {
                    this.matches.push([i, at]);
                    at = p.indexOf(needle, at + needle.length);
                }
            }
        }
        this.cache.clear();
        this.schedule(true);
        this.onSearch?.();
    }

    searchSoon() {
        clearTimeout(this.searchTimer);
        this.searchTimer = setTimeout(() => {
            const keep = this.current >= 0 ? this.matches[this.current] : null;
            this.search(this.query);
            if (keep)
                this.current = this.matches.findIndex((m) => m[0] === keep[0] && m[1] === keep[1]);
            this.onSearch?.();
        }, 300);
    }

    step(dir) {
        if (!this.matches.length)
            return;
        this.current = (this.current + dir + this.matches.length) % this.matches.length;
        this.cache.clear();
        this.reveal(this.matches[this.current][0]);
        this.onSearch?.();
    }

    // ---- rendering ----

    schedule(dirty) {
        if (dirty)
            this.dirty = true;
        if (this.frame)
            return;
        this.frame = requestAnimationFrame(() => {
            this.frame = 0;
            this.render();
        });
    }

    render() {
        const total = this.rows.length * ROW_H;
        if (this.spacer.style.height !== `${total}px`)
            this.spacer.style.height = `${total}px`;
        if (this.following)
            this.scroller.scrollTop = this.scroller.scrollHeight;
        const top = this.scroller.scrollTop;
        const height = this.scroller.clientHeight || 600;
        const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
        const last = Math.min(this.rows.length, Math.ceil((top + height) / ROW_H) + OVERSCAN);
        if (!this.dirty && first === this.shownFirst && last === this.shownLast)
            return;
        this.dirty = false;
        this.shownFirst = first;
        this.shownLast = last;
        this.rowsEl.style.transform = `translateY(${first * ROW_H}px)`;
        const keep = new Map();
        const els = [];
        for (let r = first; r < last; r++) {
            const i = this.rows[r];
            let el = this.cache.get(i);
            if (!el)
                el = this.row(i);
            keep.set(i, el);
            els.push(el);
        }
        // The last line may still grow: never reuse it.
        this.cache = keep;
        if (this.partial)
            this.cache.delete(this.lines.length - 1);
        // Rows that stay are not moved (a text selection in them survives).
        for (const el of [...this.rowsEl.children])
            if (!els.includes(el))
                el.remove();
        let cur = this.rowsEl.firstChild;
        for (const el of els) {
            if (cur === el)
                cur = cur.nextSibling;
            else
                this.rowsEl.insertBefore(el, cur);
        }
    }

    row(i) {
        const s = this.lineSec[i];
        const sec = s >= 0 ? this.sections[s] : null;
        const header = sec && sec.start === i;
        const el = h('div', { className: 'ln' });
        if (sec)
            el.classList.add('ln-in');
        if (this.target === i)
            el.classList.add('ln-target');
        // The runner's own lines (what ran, a timeout, an ignored image),
        // dimmed; only a look, the text is the log's.
        if (this.lines[i].startsWith('[gitweave] '))
            el.classList.add('ln-runner');
        if (header) {
            el.classList.add('ln-step');
            const failed = s === this.failedSection;
            if (failed)
                el.classList.add('ln-step-failed');
            el.append(h('button', {
                type: 'button', className: 'ln-fold', dataset: { section: String(s) },
                title: sec.collapsed ? 'unfold this step' : 'fold this step',
                attrs: { 'aria-expanded': String(!sec.collapsed), 'aria-label': `step at line ${i + 1}` },
            }, sec.collapsed ? '▸' : '▾'));
        }
        el.append(h('a', { className: 'ln-num', href: `#L${i + 1}`, dataset: { line: String(i + 1) } }, String(i + 1)));
        const text = h('span', { className: 'ln-text' });
        this.fill(text, i);
        el.append(text);
        if (header && s === this.failedSection)
            el.append(h('span', { className: 'badge st-failed ln-failed-label' }, '✕ failed here'));
        if (header && sec.collapsed)
            el.append(h('span', { className: 'ln-folded' }, `${sec.end - sec.start - 1} ${sec.end - sec.start - 1 === 1 ? 'line' : 'lines'}`));
        return el;
    }

    // The pieces of line i, with the search matches of the line as <mark>.
    fill(el, i) {
        const ranges = [];
        if (this.query) {
            const len = this.query.length;
            for (let m = this.firstMatch(i); m >= 0 && m < this.matches.length && this.matches[m][0] === i; m++)
                ranges.push([this.matches[m][1], this.matches[m][1] + len, m === this.current]);
        }
        fillLine(el, parseLine(this.lines[i]), ranges);
    }

    firstMatch(i) {
        let lo = 0;
        let hi = this.matches.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (this.matches[mid][0] < i) lo = mid + 1;
            else hi = mid;
        }
        return lo < this.matches.length && this.matches[lo][0] === i ? lo : -1;
    }
}

// Fill el with the pieces of one line (parseLine), the ranges [from, to,
// current] of its shown text as <mark> (current ones marked so). Text
// goes in as Text nodes or textContent, styles as classes and CSSOM
// colours: whatever the line holds is shown, never parsed as markup.
export function fillLine(el, pieces, ranges = []) {
    let pos = 0;
    for (const p of pieces) {
        const end = pos + p.t.length;
        let at = pos;
        for (const [a, b, cur] of ranges) {
            if (b <= at || a >= end)
                continue;
            if (a > at)
                el.append(piece(p.st, p.t.slice(at - pos, a - pos)));
            const m = piece(p.st, p.t.slice(Math.max(a, at) - pos, Math.min(b, end) - pos), 'mark');
            if (cur)
                m.classList.add('mark-current');
            el.append(m);
            at = Math.min(b, end);
        }
        if (at < end)
            el.append(piece(p.st, p.t.slice(at - pos)));
        pos = end;
    }
    if (ranges.length === 0 && pieces.length === 1 && pieces[0].t === '')
        el.append('\u200b');
}

// One piece of text with its style (or none), as a Text node or an element.
function piece(st, t, tag) {
    if (!st && !tag)
        return document.createTextNode(t);
    const el = document.createElement(tag || 'span');
    el.textContent = t;
    if (!st)
        return el;
    let fg = st.fg;
    let bg = st.bg;
    if (st.inv) {
        [fg, bg] = [bg, fg];
        el.classList.add('a-inv');
        if (fg === null) el.classList.add('a-fginv');
        if (bg === null) el.classList.add('a-bginv');
    }
    if (typeof fg === 'number') el.classList.add(`a-f${fg}`);
    else if (fg) el.style.color = fg;
    if (typeof bg === 'number') el.classList.add(`a-b${bg}`);
    else if (bg) el.style.backgroundColor = bg;
    if (st.b) el.classList.add('a-b');
    if (st.d) el.classList.add('a-d');
    if (st.i) el.classList.add('a-i');
    if (st.u) el.classList.add('a-u');
    if (st.s) el.classList.add('a-s');
    return el;
}
