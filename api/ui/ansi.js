// ansi: one log line into styled pieces of text, as a terminal shows them.
//
// SGR sequences (ESC [ ... m) set bold, dim, italic, underline, strike,
// inverse and colours (the 16 named ones, the 256 palette, 24-bit); every
// other control sequence (cursor moves, OSC titles and hyperlinks, DCS,
// charset switches) and control character is dropped, never interpreted.
// A carriage return inside the line keeps what follows it, as a terminal
// overwrites the line. Pieces are data ({t, st}); the log view makes them
// Text nodes with classes or CSSOM colours.

const ESC = 0x1b;
const MAX_PIECES = 200; // past this many style changes, the rest of the line is plain

export function newStyle() {
    return { fg: null, bg: null, b: false, d: false, i: false, u: false, s: false, inv: false };
}

function palette(n) {
    if (n < 16)
        return n;
    if (n < 232) {
        const c = n - 16;
        const v = (x) => (x === 0 ? 0 : 55 + x * 40);
        return `rgb(${v(Math.floor(c / 36))},${v(Math.floor(c / 6) % 6)},${v(c % 6)})`;
    }
    const g = 8 + (n - 232) * 10;
    return `rgb(${g},${g},${g})`;
}

const byte = (x) => Math.max(0, Math.min(255, x | 0));

// Apply the parameters of one SGR sequence to st (changed in place).
function sgr(st, params) {
    const p = params === '' ? [0] : params.split(/[;:]/).map((x) => (x === '' ? 0 : parseInt(x, 10)));
    for (let k = 0; k < p.length; k++) {
        const n = p[k];
        if (n === 0) Object.assign(st, newStyle());
        else if (n === 1) st.b = true;
        else if (n === 2) st.d = true;
        else if (n === 3) st.i = true;
        else if (n === 4) st.u = true;
        else if (n === 7) st.inv = true;
        else if (n === 9) st.s = true;
        else if (n === 22) st.b = st.d = false;
        else if (n === 23) st.i = false;
        else if (n === 24) st.u = false;
        else if (n === 27) st.inv = false;
        else if (n === 29) st.s = false;
        else if (n >= 30 && n <= 37) st.fg = n - 30;
        else if (n >= 90 && n <= 97) st.fg = n - 90 + 8;
        else if (n === 39) st.fg = null;
        else if (n >= 40 && n <= 47) st.bg = n - 40;
        else if (n >= 100 && n <= 107) st.bg = n - 100 + 8;
        else if (n === 49) st.bg = null;
        else if (n === 38 || n === 48) {
            let c = null;
            if (p[k + 1] === 5 && k + 2 < p.length) {
                c = palette(byte(p[k + 2]));
                k += 2;
            } else if (p[k + 1] === 2 && k + 4 < p.length) {
                c = `rgb(${byte(p[k + 2])},${byte(p[k + 3])},${byte(p[k + 4])})`;
                k += 4;
            } else {
                k = p.length; // malformed: ignore it and the rest
                continue;
            }
            if (n === 38) st.fg = c;
            else st.bg = c;
        }
    }
}

const plainStyle = (st) => st.fg === null && st.bg === null && !st.b && !st.d && !st.i && !st.u && !st.s && !st.inv;

// The pieces of one line: [{t: text, st: style or null}].
export function parseLine(line) {
    const cr = line.lastIndexOf('\r');
    if (cr >= 0 && cr < line.length - 1)
        line = line.slice(cr + 1);
    if (!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(line))
        return [{ t: line, st: null }];
    const out = [];
    let st = newStyle();
    let text = '';
    const flush = () => {
        if (text === '')
            return;
        out.push({ t: text, st: plainStyle(st) ? null : { ...st } });
        text = '';
    };
    const n = line.length;
    for (let i = 0; i < n; i++) {
        const c = line.charCodeAt(i);
        if (c >= 0x20 && c !== 0x7f && !(c >= 0x80 && c <= 0x9f)) {
            text += line[i];
            continue;
        }
        if (c === 0x09) {
            text += '\t';
            continue;
        }
        let kind = 0;
        if (c === ESC && i + 1 < n) {
            const d = line[i + 1];
            i++;
            if (d === '[') kind = 1;
            else if (d === ']') kind = 2;
            else if (d === 'P' || d === 'X' || d === '^' || d === '_') kind = 2;
            else if ('()*+-./#%'.includes(d)) i++; // ESC ( B and the like: one more byte
            // any other ESC x: two bytes, dropped
        } else if (c === 0x9b) {
            kind = 1;
        } else if (c === 0x9d || c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) {
            kind = 2;
        }
        if (kind === 1) { // CSI: parameters, intermediates, one final byte
            let j = i + 1;
            while (j < n && line.charCodeAt(j) >= 0x30 && line.charCodeAt(j) <= 0x3f) j++;
            const params = line.slice(i + 1, j);
            const k = j;
            while (j < n && line.charCodeAt(j) >= 0x20 && line.charCodeAt(j) <= 0x2f) j++;
            if (j < n && line[j] === 'm' && k === j && /^[0-9;:]*$/.test(params) && out.length < MAX_PIECES) {
                flush();
                sgr(st, params);
            }
            i = j; // the final byte (or the end) is dropped with the rest
        } else if (kind === 2) { // OSC and string sequences: up to BEL or ST
            let j = i + 1;
            while (j < n) {
                const e = line.charCodeAt(j);
                if (e === 0x07 || e === 0x9c) break;
                if (e === ESC && line[j + 1] === '\\') { j++; break; }
                j++;
            }
            i = j;
        }
        // any other control character: dropped
    }
    flush();
    if (out.length === 0)
        out.push({ t: '', st: null });
    return out;
}

// The text of a line as shown, without styles (for search).
export function plainText(line) {
    const pieces = parseLine(line);
    return pieces.length === 1 ? pieces[0].t : pieces.map((p) => p.t).join('');
}
