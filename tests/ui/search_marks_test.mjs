// api/ui/page_search.js, what the search page marks in a matching line
// and the address it keeps a search in, in Node (no DOM needed).
import { matchRanges, searchOf, searchHref } from '../../api/ui/page_search.js';

let passes = 0;
let fails = 0;
const eq = (what, want, got) => {
    const w = JSON.stringify(want);
    const g = JSON.stringify(got);
    if (w === g) { passes++; console.log(`PASS: marks: ${what}`); } else { fails++; console.log(`FAIL: marks: ${what}: want ${w} got ${g}`); }
};

eq('a literal, without regard to case, each time', [[0, 5, false], [9, 14, false]], matchRanges('Error in error', 'ERROR'));
eq('regex characters in a literal are plain', [[2, 5, false]], matchRanges('a a.* b', 'a.*'));
eq('a regular expression, without regard to case', [[6, 16, false]], matchRanges('error NEEDLE-7c3 here', 'needle-[0-9a-f]+', true));
eq('a pattern that can match nothing marks no empty ranges', [[0, 3, false]], matchRanges('abc', 'x*abc|y*', true));
eq('one JavaScript cannot read marks nothing', [], matchRanges('a(b', 'a(b', true));
// JavaScript reads \y as "y" and [[:digit:]] as a class of "[:digt" then "]".
eq("Postgres's word boundary marks nothing", [], matchRanges('a yneedley b', '\\yneedle\\y', true));
eq("Postgres's [[:digit:]] marks nothing", [], matchRanges('code d]] 12', '[[:digit:]]+', true));
eq('no query, no mark', [], matchRanges('abc', ''));
eq('at most 100 marks a line', 100, matchRanges('a'.repeat(500), 'a').length);

const s = searchOf(new URLSearchParams('q=a+b&re=true&repo=shop&order=oldest&status=failed&x=1'));
eq('the address names the search', { q: 'a b', re: 'true', repo: 'shop', status: 'failed', template: '', ref: '', order: 'oldest' }, s);
eq('and back, the API names and order', '/search?q=a+b&re=true&repo=shop&status=failed&order=oldest', searchHref(s));
eq('re=false and order=newest are the defaults, left out', '/search?q=x',
    searchHref(searchOf(new URLSearchParams('q=x&re=false&order=newest'))));
eq('no query: the empty search page', '/search', searchHref({}));

console.log(`marks: ${passes} passed, ${fails} failed`);
process.exit(fails ? 1 : 0);
