#!/usr/bin/env python3
"""compare.py DIR - join DIR/phrases.tsv, DIR/sisimai.out, DIR/rebond.jsonl into
DIR/results.tsv and DIR/disagree.tsv; print agreement counts per variant.

Agreement levels:
  strict   rebond reason == Sisimai reason
  compat   also accepts rebond's Sisimai-5 reasons for their 4.25 parents
           (badreputation/requireptr -> blocked, speeding/ratelimited -> toomanyconn,
            failedstarttls -> securityerror, authfailure -> blocked|securityerror,
            notcompliantrfc -> contenterror|rejected)
  category rebond category == category of Sisimai's reason (tests/score_corpus.py table)
disagree.tsv holds rows failing compat; column sis_eq_mod says whether Sisimai's
verdict equals the module the phrase came from (the interesting ones).
"""
import collections, json, os, sys

# reason -> category: the table tests/score_corpus.py scores the corpus with
sys.dont_write_bytecode = True  # (no __pycache__ in the source tree)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
from score_corpus import BUILTIN as CAT  # noqa: E402
COMPAT = {
    'badreputation': {'blocked'}, 'requireptr': {'blocked'},
    'speeding': {'toomanyconn'}, 'ratelimited': {'toomanyconn'},
    'failedstarttls': {'securityerror'}, 'authfailure': {'blocked', 'securityerror'},
    'notcompliantrfc': {'contenterror', 'rejected'},
}


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else '.'
    phr = {}
    for l in open(os.path.join(d, 'phrases.tsv'), encoding='utf-8', errors='surrogateescape'):
        i, mod, kind, p = l.rstrip('\n').split('\t', 3)
        phr[i] = (mod, kind, p)
    sis = {}
    for l in open(os.path.join(d, 'sisimai.out'), encoding='utf-8', errors='surrogateescape'):
        f = l.rstrip('\n').split('\t')
        sis.setdefault(os.path.basename(f[0]), f)          # first recipient only (there is one)
    reb = {}
    for l in open(os.path.join(d, 'rebond.jsonl'), encoding='utf-8', errors='surrogateescape'):
        if not l.strip():
            continue
        o = json.loads(l)
        reb.setdefault(os.path.basename(o['file']), o)

    def clean(s):
        return ('' if s is None else str(s)).replace('\t', ' ').replace('\n', ' ')

    head = ['variant', 'id', 'module', 'kind', 'phrase', 'sisimai', 'rebond', 'strict', 'compat',
            'category', 'sis_eq_mod', 'rebond_rule', 'rebond_matched', 'rebond_category',
            'rebond_status', 'sis_agent', 'sis_command', 'sis_status']
    rows = []
    for i in sorted(phr):
        mod, kind, p = phr[i]
        for v in 'abc':
            fn = f'{i}-{v}.eml'
            s = sis.get(fn, [fn, '(none)', '', '', '', '', ''])
            o = reb.get(fn, {})
            sr, rr = s[1], o.get('reason') or '(none)'
            strict = sr == rr
            compat = strict or sr in COMPAT.get(rr, ())
            cat = CAT.get(sr, '?') == (o.get('category') or '(none)')
            rows.append([v, i, mod, kind, p, sr, rr, int(strict), int(compat), int(cat),
                         int(sr == mod), clean(o.get('rule')), clean(o.get('matched')),
                         clean(o.get('category')), clean(o.get('status')), s[3], s[4], s[5]])
    with open(os.path.join(d, 'results.tsv'), 'w', encoding='utf-8', errors='surrogateescape') as f:
        f.write('\t'.join(head) + '\n')
        for r in rows:
            f.write('\t'.join(map(str, r)) + '\n')
    with open(os.path.join(d, 'disagree.tsv'), 'w', encoding='utf-8', errors='surrogateescape') as f:
        f.write('\t'.join(head) + '\n')
        for r in sorted(rows, key=lambda r: (-r[10], r[2], r[0], r[1])):
            if not r[8]:
                f.write('\t'.join(map(str, r)) + '\n')

    print('variant  n    strict      compat      category    sisimai==module  compat|sis==module')
    for v in 'abc':
        rs = [r for r in rows if r[0] == v]
        n = len(rs)
        st = sum(r[7] for r in rs); co = sum(r[8] for r in rs); ca = sum(r[9] for r in rs)
        sm = [r for r in rs if r[10]]
        cm = sum(r[8] for r in sm)
        pc = lambda x, m: f'{x:4d} {100.0 * x / m if m else 0:5.1f}%'
        print(f'{v:7s} {n:4d} {pc(st, n)} {pc(co, n)} {pc(ca, n)} {len(sm):5d}            {pc(cm, len(sm))}')


if __name__ == '__main__':
    main()
