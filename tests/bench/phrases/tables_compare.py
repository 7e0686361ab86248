#!/usr/bin/env python3
"""tables_compare.py DIR - join DIR/phrases.tsv, DIR/sisimai.out, DIR/rebond.jsonl into
DIR/results.tsv (one row per bounce) and print DIR/summary.txt: agreement of
rebond with the table's reason per variant and per category of the table
reason, then the disagreeing phrases grouped by table reason.

  strict    rebond reason == table reason
  compat    also rebond's Sisimai-5 reasons for their 4.x parents
            (the COMPAT map of tests/bench/phrases/compare.py)
  category  rebond's category == category of the table reason
            (tests/score_corpus.py BUILTIN)
In the lists: [=] agrees (Japanese group only), [F] rebond fell back (rule fallback.*), [X] rebond's category
differs from the table reason's category and it is not a fallback.
"""
import collections, json, os, re, sys
d = sys.argv[1] if len(sys.argv) > 1 else '.'
sys.dont_write_bytecode = True  # (no __pycache__ in the source tree)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import CAT, COMPAT  # noqa: E402
ORDER = ['hard', 'quota', 'blocked', 'spf', 'spam', 'transient', 'unknown']

phr = {}
for l in open(os.path.join(d, 'phrases.tsv'), encoding='utf-8', errors='surrogateescape'):
    f = l.rstrip('\n').split('\t')
    phr[f[0]] = f
sis = {}
for l in open(os.path.join(d, 'sisimai.out'), encoding='utf-8', errors='surrogateescape'):
    f = l.rstrip('\n').split('\t')
    sis.setdefault(os.path.basename(f[0]), f)
reb = {}
for l in open(os.path.join(d, 'rebond.jsonl'), encoding='utf-8', errors='surrogateescape'):
    if l.strip():
        o = json.loads(l)
        reb.setdefault(os.path.basename(o['file']), o)

def clean(s):
    return ('' if s is None else str(s)).replace('\t', ' ').replace('\n', ' ')

head = ['module', 'table_reason', 'phrase', 'variant', 'sisimai', 'rebond', 'rebond_rule',
        'rebond_matched', 'id', 'table', 'kind', 'codes', 'japanese', 'table_category',
        'rebond_category', 'strict', 'compat', 'category', 'fallback', 'sisimai_eq_table']
rows = []
for fn in sorted(os.listdir(os.path.join(d, 'mail'))):
    m = re.match(r'(\d+)-(\w)\.eml$', fn)
    if not m:
        continue
    i, v = m.groups()
    _, reason, mods, tabs, kind, p, codes, ja = phr[i]
    s = sis.get(fn, [fn, '(none)'])
    o = reb.get(fn, {})
    rr = o.get('reason') or '(none)'
    rule = clean(o.get('rule'))
    tc = CAT.get(reason, '?'); rc = o.get('category') or '(none)'
    strict = rr == reason
    compat = strict or reason in COMPAT.get(rr, ())
    rows.append(dict(zip(head, [mods, reason, p, v, s[1], rr, rule, clean(o.get('matched')),
        i, tabs, kind, codes, ja, tc, rc, int(strict), int(compat), int(tc == rc),
        int(rule.startswith('fallback')), int(s[1] == reason)])))
with open(os.path.join(d, 'results.tsv'), 'w', encoding='utf-8', errors='surrogateescape') as f:
    f.write('\t'.join(head) + '\n')
    for r in rows:
        f.write('\t'.join(str(r[h]) for h in head) + '\n')

out = []
pc = lambda x, n: '%4d/%-4d %5.1f%%' % (x, n, 100.0 * x / n if n else 0)
def block(title, key, keys):
    out.append(title)
    out.append('  %-10s %-16s %-16s %-16s %-16s %-16s %s' % ('', 'strict', 'compat', 'category',
                                                      'cat,no-fallbk', 'fallback', 'sisimai=table'))
    for k in keys:
        rs = [r for r in rows if key(r) == k]
        if not rs:
            continue
        n = len(rs)
        out.append('  %-10s %s %s %s %s %s %s' % (k, pc(sum(r['strict'] for r in rs), n),
            pc(sum(r['compat'] for r in rs), n), pc(sum(r['category'] for r in rs), n),
            pc(sum(r['category'] and not r['fallback'] for r in rs), n),
            pc(sum(r['fallback'] for r in rs), n), pc(sum(r['sisimai_eq_table'] for r in rs), n)))
block('Per variant (b Postfix RCPT, c qmail, d Postfix end of DATA):', lambda r: r['variant'], 'bcd')
out.append('')
block('Per category of the table reason (all variants):', lambda r: r['table_category'], ORDER)
out.append('')
block('Per category, variant b only:', lambda r: r['table_category'] if r['variant'] == 'b' else None, ORDER)
out.append('')

# disagreements: one line per phrase (variants collapsed)
byp = collections.OrderedDict()
for r in rows:
    byp.setdefault(r['id'], []).append(r)
groups = collections.defaultdict(list)
for i, rs in byp.items():
    bad = [r for r in rs if not r['compat']]
    r0 = rs[0]
    if not bad and not r0['japanese']:
        continue
    tag = '[=]' if not bad else '[F]' if all(r['fallback'] for r in bad) else \
          '[X]' if any(not r['category'] and not r['fallback'] for r in bad) else '[ ]'
    got = ' '.join('%s=%s' % (r['variant'], r['rebond'] if not r['fallback'] else 'F')
                   for r in rs)
    mods = ','.join(m.split('/')[1] for m in r0['module'].split(','))
    line = '  %s %s  {%s; %s; sis %s}' % (tag, r0['phrase'], mods, got,
                                          ' '.join(r['sisimai'] for r in rs))
    g = 'Japanese' if r0['japanese'] else r0['table_reason']
    groups[g].append(line)
tot = sum(1 for i, rs in byp.items() if any(not r['compat'] for r in rs))
out.append('Phrases where rebond disagrees (compat) with the table reason in some variant: '
           '%d of %d' % (tot, len(byp)))
cats = {g: CAT.get(g, 'z') for g in groups}
for g in sorted(groups, key=lambda g: (g == 'Japanese', ORDER.index(cats[g]) if cats[g] in ORDER else 9, g)):
    out.append('%s (%s): %d' % (g, cats[g] if g != 'Japanese' else 'separate group', len(groups[g])))
    out.extend(sorted(groups[g], key=lambda l: (l[2:5], l)))
open(os.path.join(d, 'summary.txt'), 'w', encoding='utf-8').write('\n'.join(out) + '\n')
print('\n'.join(out))
