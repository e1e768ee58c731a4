// api/ui/ansi.js, the log view's SGR parser, in Node (it touches no DOM):
// what it keeps, what it drops, and that it never throws on odd input.
import { parseLine, plainText } from '../../api/ui/ansi.js';

let passes = 0;
let fails = 0;
const eq = (what, want, got) => {
    const w = JSON.stringify(want);
    const g = JSON.stringify(got);
    if (w === g) { passes++; console.log(`PASS: ansi: ${what}`); } else { fails++; console.log(`FAIL: ansi: ${what}: want ${w} got ${g}`); }
};
const E = '\x1b';
const styles = (line) => parseLine(line).map((p) => [p.t, p.st && Object.fromEntries(Object.entries(p.st).filter(([, v]) => v !== null && v !== false))]);

eq('plain text is one piece', [['hello', null]], styles('hello'));
eq('bold red, reset', [['a', { fg: 1, b: true }], ['b', null]], styles(`${E}[1;31ma${E}[0mb`));
eq('bright and background colours', [['x', { fg: 9, bg: 12 }]], styles(`${E}[91;104mx`));
eq('256 colours: the cube and the greys', [['c', { fg: 'rgb(255,135,0)' }], ['g', { fg: 'rgb(8,8,8)', bg: 'rgb(238,238,238)' }]],
    styles(`${E}[38;5;208mc${E}[38;5;232;48;5;255mg`));
eq('24-bit, also with colons', [['t', { fg: 'rgb(1,2,3)' }], ['u', { fg: 'rgb(1,2,3)', bg: 'rgb(4,5,6)' }]],
    styles(`${E}[38;2;1;2;3mt${E}[48:2:4:5:6mu`));
eq('out-of-range values are clamped, a short 38 is ignored', [['v', { fg: 'rgb(255,0,255)' }], ['w', { fg: 'rgb(255,0,255)' }]],
    styles(`${E}[38;2;999;0;300mv${E}[38;5mw`));
eq('ESC[m resets; 22, 39 and 49 undo', [['a', { fg: 2, b: true }], ['b', { fg: 2 }], ['c', null]],
    styles(`${E}[1;32ma${E}[22mb${E}[39;49mc${E}[m`));
eq('cursor moves, erase and private modes are dropped', 'abc', plainText(`a${E}[2K${E}[1;1Hb${E}[?25lc`));
eq('OSC 8 hyperlink: the text stays, the address goes', 'click me', plainText(`${E}]8;;javascript:alert(1)${E}\\click me${E}]8;;${E}\\`));
eq('OSC title ended by BEL is dropped', 'after', plainText(`${E}]0;title\x07after`));
eq('DCS and APC strings are dropped', 'xy', plainText(`x${E}Pq#0;2;0;0;0${E}\\${E}_apc${E}\\y`));
eq('charset switch ESC ( B is dropped whole', 'ab', plainText(`a${E}(Bb`));
eq('8-bit CSI and OSC are dropped', 'ab', plainText('a\x9b31mb\x9d0;t\x07'));
eq('other control characters are dropped, tabs kept', 'a\tb', plainText('a\x00\x07\x08\tb\x7f'));
eq('a carriage return keeps what follows it', '100%', plainText('10%\r50%\r100%'));
eq('a final carriage return keeps the line', 'done', plainText('done\r'));
eq('an unfinished sequence at the end is dropped', 'a', plainText(`a${E}[31`));
eq('a lone ESC at the end is dropped', 'a', plainText(`a${E}`));
eq('markup is text', '<script>alert(1)</script>', plainText('<script>alert(1)</script>'));
let many = '';
for (let i = 0; i < 1000; i++) many += `${E}[3${i % 8}mx`;
eq('a line of 1,000 colour changes: at most 201 pieces, all its text', [true, 1000], [parseLine(many).length <= 201, plainText(many).length]);
let threw = false;
try {
    for (let i = 0; i < 2000; i++) {
        let s = '';
        for (let k = 0; k < 40; k++) s += String.fromCharCode(Math.floor(Math.random() * 0xa0));
        parseLine(s);
    }
} catch (e) {
    threw = String(e);
}
eq('random control-heavy input never throws', false, threw);

console.log(`${passes} passed, ${fails} failed`);
process.exit(fails === 0 ? 0 : 1);
